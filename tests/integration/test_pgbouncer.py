"""The decision core behind PgBouncer in transaction mode (issue 17), with two server sessions so
that a client's consecutive transactions land on different sessions all the time.

The platform facts first, in their negative form (what breaks without the pooler settings),
then the product's own path through the pooler: decisions, claims, learning, and the pops'
notices on a direct connection.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime

import asyncpg
import pytest

from devkit.demo import CUSTOMERS, seed_demo
from devkit.sandbox.pgbouncer import LocalPgBouncer, throwaway_pgbouncer
from devkit.sandbox.postgres import LocalPostgres
from sticky_router.process import database
from sticky_router.routing_core import CallRecorder, IncomingCall, StickyDecision
from sticky_router.routing_core.events import DecisionMade
from sticky_router.routing_core.service import RoutingService
from sticky_router.web.pops.notices import AGENT_POP, PopNotices
from sticky_router.web.pops.store import record_ring
from tests.integration.test_routing_service import DEMO_EXPECTATIONS, IVAN

CONCURRENT = 60


@pytest.fixture(scope="module")
def bouncer(postgres: LocalPostgres, database_url: str) -> Iterator[LocalPgBouncer]:
    with throwaway_pgbouncer(postgres, server_sessions=2) as started:
        yield started


@pytest.fixture
async def pooled(bouncer: LocalPgBouncer, db: asyncpg.Pool) -> AsyncIterator[asyncpg.Pool]:
    """The router's pool as STICKY_DATABASE_POOLER=transaction opens it, the demo loaded."""
    pool = await database.create_pool(bouncer.dsn, size=8, transaction_pooled=True)
    await seed_demo(pool, datetime.now(UTC), reset=True)
    yield pool
    await pool.close()


async def test_pgbouncer_refuses_the_pool_a_direct_server_gets(bouncer: LocalPgBouncer) -> None:
    """Why the pooler needs saying: the direct pool's plan_cache_mode is no startup parameter
    PgBouncer knows, and it closes the connection."""
    with pytest.raises(asyncpg.ProtocolViolationError, match="unsupported startup parameter"):
        await database.create_pool(bouncer.dsn, size=2)


@pytest.fixture
def abused_bouncer(postgres: LocalPostgres, database_url: str) -> Iterator[LocalPgBouncer]:
    """A PgBouncer of its own for a test that misuses it on purpose: whatever state the failed
    statements leave its server sessions in, the product's tests never meet it."""
    with throwaway_pgbouncer(postgres, server_sessions=2) as started:
        yield started


async def test_statements_cached_across_transactions_break_behind_pgbouncer(
    abused_bouncer: LocalPgBouncer, db: asyncpg.Pool
) -> None:
    """asyncpg's statement cache, as the direct pool has it: a statement prepared on one server
    session is looked for on another."""
    pool = await asyncpg.create_pool(
        abused_bouncer.dsn, min_size=8, max_size=8, statement_cache_size=256
    )
    try:
        said = await asyncio.gather(
            *(pool.fetchval("SELECT count(*) FROM agents WHERE name <> $1", str(n))
              for n in range(CONCURRENT)),
            return_exceptions=True,
        )  # fmt: skip
    finally:
        await pool.close()
    broken = [error for error in said if isinstance(error, asyncpg.InvalidSQLStatementNameError)]
    assert broken, "every cached statement found its session: the pooler did not reassign them"


async def test_every_demo_story_decides_as_told_through_pgbouncer(
    pooled: asyncpg.Pool, bouncer: LocalPgBouncer
) -> None:
    routing = RoutingService(pooled, default_region="RU", db_budget_seconds=5)
    stories = [customer for customer in CUSTOMERS if customer.name in DEMO_EXPECTATIONS]
    # Many at once, more than the two server sessions: every decision's statements interleave
    # with the others' on sessions they did not start on.
    decisions = await asyncio.gather(
        *(routing.decide(call(customer.numbers[0]), claim=False)
          for _ in range(CONCURRENT // len(stories)) for customer in stories),
    )  # fmt: skip
    sticky = {
        decision.target.agent.name for decision in decisions if isinstance(decision, StickyDecision)
    }
    expected = {agent for route, agent in DEMO_EXPECTATIONS.values() if route == "sticky"}
    assert sticky == expected, f"PgBouncer's log ends: {bouncer.log[-3000:]}"


async def test_through_pgbouncer_a_claim_holds_once_and_the_call_is_learned(
    pooled: asyncpg.Pool,
) -> None:
    """Ivan calling twice at once: one call claims agent2, the other is told agent2 is claimed;
    both calls are recorded."""
    routing = RoutingService(pooled, default_region="RU", db_budget_seconds=5)
    recorder = CallRecorder(pooled)
    first, second = call(IVAN), call(IVAN)
    for each in (first, second):
        assert await recorder.call_started(each, IVAN)
    decisions = await asyncio.gather(routing.decide(first), routing.decide(second))
    assert sum(isinstance(decision, StickyDecision) for decision in decisions) == 1
    for decision in decisions:
        assert await recorder.decision_made(DecisionMade.of(decision))
    routes = await pooled.fetch(
        "SELECT route FROM interactions WHERE call_id = ANY($1::text[]) ORDER BY route",
        [first.call_id, second.call_id],
    )
    assert [row["route"] for row in routes] == ["queue", "sticky"]


async def test_a_listen_through_pgbouncer_misses_the_notice_a_direct_one_hears(
    bouncer: LocalPgBouncer, database_url: str, db: asyncpg.Pool
) -> None:
    """LISTEN belongs to a server session, which the pooler hands to other clients between
    transactions: the notice never reaches the client that asked. Hence the direct URL."""
    heard: dict[str, list[str]] = {"pooled": [], "direct": []}
    listeners = {
        "pooled": await asyncpg.connect(bouncer.dsn, statement_cache_size=0),
        "direct": await asyncpg.connect(database_url),
    }
    try:
        for name, connection in listeners.items():
            await connection.add_listener(
                AGENT_POP, lambda *args, name=name: heard[name].append(str(args[-1]))
            )
        await db.execute("SELECT pg_notify($1, 'told')", AGENT_POP)
        await asyncio.sleep(0.5)
        assert heard == {"pooled": [], "direct": ["told"]}
    finally:
        for connection in listeners.values():
            await connection.close()


async def test_a_ring_recorded_through_pgbouncer_reaches_every_routers_notices(
    pooled: asyncpg.Pool, database_url: str
) -> None:
    """The router's own split: the ring written through the pooler, the notice heard on the
    direct connection (RouterSettings.session_database_url)."""
    notices = PopNotices(database_url)
    heard: list[str] = []
    notices.on_agent_pop = heard.append
    notices.start()
    try:
        await asyncio.wait_for(notices.listening.wait(), 10)
        routing = RoutingService(pooled, default_region="RU", db_budget_seconds=5)
        recorder = CallRecorder(pooled)
        ivan = call(IVAN)
        assert await recorder.call_started(ivan, IVAN)
        decision = await routing.decide(ivan)
        assert isinstance(decision, StickyDecision)
        assert await recorder.decision_made(DecisionMade.of(decision))
        agent2 = decision.target.agent.id
        assert await record_ring(pooled, ivan.call_id, agent2, ivan.at, "sticky", "a")
        for _ in range(50):
            if heard:
                break
            await asyncio.sleep(0.05)
        told = json.loads(heard[0])
        assert (told["call_id"], told["agent_id"], told["origin"]) == (ivan.call_id, agent2, "a")
    finally:
        await notices.stop()


def call(caller_id: str) -> IncomingCall:
    return IncomingCall(f"bouncer-{uuid.uuid4()}", caller_id, datetime.now(UTC), "support")
