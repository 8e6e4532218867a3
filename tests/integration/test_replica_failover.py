"""A primary with a synchronous standby, and the failover a Patroni cluster performs (issue 17).

The router is given one libpq multi-host URL (primary, then standby,
`target_session_attrs=read-write`) and is never restarted: the primary dies, the standby is
promoted, and the same pool, the same RoutingService and the same journal carry on. What is
proved, with the product's own code (decide, the journal and its applier, CallRecorder):

- before: Ivan Petrov is sticky to agent2, and a call learned through the journal is committed;
- in the gap (primary dead, standby not yet promoted): the pool finds no host that takes
  writes, so it never lands on the read-only standby; a decision goes to the queue at once
  (db_error, well inside the budget), and what is learned waits in the journal;
- after promotion: the same pool connects to the promoted standby; the call learned just before
  the primary died is there (synchronous replication: nothing acknowledged is lost), Ivan is
  sticky again, and both the gap's call and a new one are recorded on the promoted server.

Without `target_session_attrs` the pool connects to the standby in the gap and every write
fails read-only: why the setting is required.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest

from devkit.demo import seed_demo
from devkit.sandbox.postgres_replica import (
    STANDBY_NAME,
    ReplicatedPostgres,
    throwaway_replicated_postgres,
)
from sticky_router.process import database
from sticky_router.process.journaling import Journaling
from sticky_router.routing_core import (
    CallRecorder,
    HangupSide,
    IncomingCall,
    QueueDecision,
    QueueReason,
    RoutingService,
    StickyDecision,
)
from sticky_router.routing_core.decision import Decision
from sticky_router.routing_core.events import (
    CallEnded,
    CallRouted,
    CallStarted,
    DecisionMade,
    LegAnswered,
    LegEnded,
    LegRang,
)
from sticky_router.routing_core.store.journal import Journal
from sticky_router.web.pops.notices import AGENT_POP, PopNotices

IVAN = "+79123456701"  # the demo's Ivan Petrov: last spoke with agent2, 42 minutes ago
BUDGET = 0.3  # seconds: the router's default database budget (STICKY_DB_BUDGET_MS=300)


async def _seed(dsn: str) -> None:
    pool = await database.create_pool(dsn, size=2)
    try:
        await seed_demo(pool, datetime.now(UTC))
    finally:
        await pool.close()


@pytest.fixture(scope="module")
def pair() -> Iterator[ReplicatedPostgres]:
    """Migrated through the multi-host URL (Alembic's SQLAlchemy URL with host= and port= lists).
    Failing over is for good: one test of this module ends this pair's life."""
    with throwaway_replicated_postgres() as replicated:
        database.upgrade(replicated.dsn)
        yield replicated


@pytest.fixture(scope="module")
async def seeded(pair: ReplicatedPostgres) -> ReplicatedPostgres:
    await _seed(pair.dsn)
    return pair


def incoming(call_id: str, at: datetime) -> IncomingCall:
    return IncomingCall(call_id, IVAN, at, "support")


async def learn_answered(journal: Journal, decision: Decision, agent: str, talk: float) -> datetime:
    """What the ARI application journals for a sticky call answered by `agent` and ended by the
    caller; returns when it ended."""
    call = decision.context.call
    answered = call.at + timedelta(seconds=5)
    ended = answered + timedelta(seconds=talk)
    leg = f"{call.call_id}-leg"
    assert await journal.append(
        CallStarted.of(call, decision.context.number),
        DecisionMade.of(decision),
        LegRang(call.call_id, leg, f"PJSIP/{agent}", call.at + timedelta(seconds=1)),
        LegAnswered(call.call_id, leg, answered),
        CallRouted(call.call_id, "sticky"),
        LegEnded(call.call_id, leg, ended, "ANSWER", HangupSide.CALLER),
        CallEnded(call.call_id, ended, HangupSide.CALLER, "sticky"),
    )
    return ended


async def learn_queued(journal: Journal, decision: QueueDecision) -> None:
    """What the ARI application journals for a call it sent to the queue (attempt._fall_back)."""
    call = decision.context.call
    assert await journal.append(
        CallStarted.of(call, decision.context.number),
        DecisionMade.of(decision),
        CallRouted(call.call_id, "queue", decision.reason.value),
        CallEnded(call.call_id, call.at + timedelta(seconds=30), HangupSide.CALLER, "queue"),
    )


async def interaction(
    connection: asyncpg.Connection | asyncpg.Pool, call_id: str
) -> asyncpg.Record | None:
    return await connection.fetchrow(
        "SELECT i.route, i.route_reason, i.ended_at, a.name AS agent FROM interactions i "
        "LEFT JOIN agents a ON a.id = i.target_agent_id WHERE i.call_id = $1",
        call_id,
    )


async def test_failover_keeps_routing_and_learning(
    seeded: ReplicatedPostgres, tmp_path: Path
) -> None:
    pair = seeded
    pool = await database.open_pool(pair.dsn, size=4)
    routing = RoutingService(pool, default_region="RU", db_budget_seconds=BUDGET)
    journaling = Journaling(tmp_path / "router.journal", CallRecorder(pool))
    journal = await journaling.start()
    assert journaling.applier is not None
    applier = journaling.applier
    try:
        # a. Before: replication is synchronous, Ivan is sticky to agent2, his call is learned.
        assert (
            await pool.fetchval(
                "SELECT sync_state FROM pg_stat_replication WHERE application_name = $1",
                STANDBY_NAME,
            )
            == "sync"
        )
        assert await pool.fetchval("SELECT inet_server_port()") == pair.primary.port
        now = datetime.now(UTC)
        before = await routing.decide(incoming("before-failover", now - timedelta(minutes=3)))
        assert isinstance(before, StickyDecision)
        assert before.target.agent.name == "agent2"
        ended = await learn_answered(journal, before, "agent2", talk=95)
        await routing.release("before-failover", "answered", ended)
        assert await applier.drain(5)
        row = await interaction(pool, "before-failover")
        assert row is not None
        assert (row["route"], row["agent"], row["ended_at"]) == ("sticky", "agent2", ended)

        # b. The primary dies the moment the commit was acknowledged. In the gap, no host takes
        # writes: the pool refuses to settle for the read-only standby.
        await asyncio.to_thread(pair.fail_primary)
        started = time.perf_counter()
        in_gap = await routing.decide(incoming("in-the-gap", datetime.now(UTC)))
        decide_took = time.perf_counter() - started
        assert isinstance(in_gap, QueueDecision)
        assert in_gap.reason is QueueReason.DB_ERROR
        assert decide_took < BUDGET  # refused at once (measured: 6 to 12 ms), not waited out
        with pytest.raises(ConnectionRefusedError):  # the primary's refusal, not the standby's
            await pool.execute("SELECT 1")
        await learn_queued(journal, in_gap)
        await asyncio.sleep(0.5)  # the applier tries, fails, backs off
        assert journal.backlog == 4
        standby = await asyncpg.connect(pair.standby.dsn)
        try:
            assert await standby.fetchval("SELECT pg_is_in_recovery()") is True
            assert await interaction(standby, "in-the-gap") is None
            # The call acknowledged before the primary died is on the standby: on its disk when
            # the commit returned (synchronous_commit=on), visible once replayed (a moment later).
            for _ in range(50):
                if await interaction(standby, "before-failover") is not None:
                    break
                await asyncio.sleep(0.02)
            assert await interaction(standby, "before-failover") is not None
        finally:
            await standby.close()

        # c. Promotion: the same pool, the same service, the same journal carry on.
        promotion = await asyncio.to_thread(pair.promote)
        assert promotion < 10  # measured: 0.13 s from pg_ctl promote to a writable server
        after = await routing.decide(incoming("after-failover", datetime.now(UTC)))
        assert isinstance(after, StickyDecision)  # within the budget: not db_timeout
        assert after.target.agent.name == "agent2"
        # The evidence is the call learned just before the primary died.
        assert after.target.last_contact_ended_at == ended
        assert await pool.fetchval("SELECT inet_server_port()") == pair.standby.port
        assert await applier.drain(10)
        ended_after = await learn_answered(journal, after, "agent2", talk=30)
        assert await applier.drain(5)
        assert journal.backlog == 0
        standby = await asyncpg.connect(pair.standby.dsn)
        try:
            assert await standby.fetchval("SELECT pg_is_in_recovery()") is False
            gap_row = await interaction(standby, "in-the-gap")
            assert gap_row is not None
            assert (gap_row["route"], gap_row["route_reason"]) == ("queue", "db_error")
            after_row = await interaction(standby, "after-failover")
            assert after_row is not None
            assert (after_row["route"], after_row["agent"], after_row["ended_at"]) == (
                "sticky",
                "agent2",
                ended_after,
            )
        finally:
            await standby.close()
    finally:
        await journaling.stop(drain_seconds=1)
        await pool.close()


@pytest.fixture
def second_pair() -> Iterator[ReplicatedPostgres]:
    with throwaway_replicated_postgres() as replicated:
        database.upgrade(replicated.dsn)
        yield replicated


async def test_without_target_session_attrs_the_gap_lands_on_the_read_only_standby(
    second_pair: ReplicatedPostgres,
) -> None:
    pair = second_pair
    await _seed(pair.dsn)
    any_host = pair.hosts_dsn(None)
    await asyncio.to_thread(pair.fail_primary)
    pool = await database.open_pool(any_host, size=2)
    try:
        # Connected, to the only host that answers: the standby, still in recovery.
        assert await pool.fetchval("SELECT inet_server_port()") == pair.standby.port
        assert await pool.fetchval("SELECT pg_is_in_recovery()") is True
        routing = RoutingService(pool, default_region="RU", db_budget_seconds=BUDGET)
        preview = await routing.decide(incoming("preview", datetime.now(UTC)), claim=False)
        assert isinstance(preview, StickyDecision)  # reading works...
        decision = await routing.decide(incoming("on-standby", datetime.now(UTC)))
        assert isinstance(decision, QueueDecision)  # ...claiming agent2 does not
        assert decision.reason is QueueReason.DB_ERROR
        with pytest.raises(asyncpg.ReadOnlySQLTransactionError):
            await CallRecorder(pool).call_started(incoming("on-standby", datetime.now(UTC)), IVAN)
    finally:
        await pool.close()


async def test_the_pops_listen_connection_follows_the_promotion_within_seconds(
    second_pair: ReplicatedPostgres,
) -> None:
    """The LISTEN connection of each router (web/pops/notices.py) is on the primary. When it
    dies the connection is given up at once, not at the next 15 s probe, and the notices of the
    promoted server are heard."""
    pair = second_pair
    notices = PopNotices(pair.dsn)
    heard: list[str] = []
    notices.on_agent_pop = heard.append
    notices.start()
    try:
        await asyncio.wait_for(notices.listening.wait(), 10)
        await asyncio.to_thread(pair.fail_primary)
        for _ in range(100):
            if not notices.listening.is_set():
                break
            await asyncio.sleep(0.01)
        assert not notices.listening.is_set(), "the dead primary's connection was kept"
        await asyncio.to_thread(pair.promote)
        await asyncio.wait_for(notices.listening.wait(), 5 + 2)  # the backoff's longest step
        promoted = await asyncpg.connect(pair.standby.dsn)
        try:
            await promoted.execute("SELECT pg_notify($1, 'after promotion')", AGENT_POP)
        finally:
            await promoted.close()
        for _ in range(50):
            if heard:
                break
            await asyncio.sleep(0.02)
        assert heard == ["after promotion"]
    finally:
        await notices.stop()
