"""Real calls while PostgreSQL fails over (issue 17): a primary with a synchronous standby, the
router given both in one URL (`target_session_attrs=read-write`), the primary killed between
calls and the standby promoted, as a Patroni cluster does. The router is never restarted.

Proved: what was learned before the primary died routes the next call (synchronous replication
lost nothing the router was told was committed); a call in the gap is not dropped but queued,
and is learned once the standby is promoted.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest

from devkit.demo import seed_demo
from devkit.sandbox.asterisk import LocalAsterisk
from devkit.sandbox.postgres_replica import ReplicatedPostgres, throwaway_replicated_postgres
from devkit.sandbox.stack import Sandbox
from sticky_router.process import database
from sticky_router.process.router import Router
from sticky_router.routing_core.settings import Scope
from sticky_router.routing_core.store.settings_store import set_setting
from testkit.sipp import assert_calls_succeeded
from tests.e2e.phones import AgentPhones, call
from tests.e2e.records import legs, settled
from tests.e2e.replacement import replacing

IVAN = "79123456701"  # last spoke with agent2 42 minutes ago
NEWCOMER = "79990000011"  # no history: the queue, then agent1's
IN_THE_GAP = "79990000012"  # calls while no server takes writes

pytestmark = pytest.mark.usefixtures("fresh")


@pytest.fixture(scope="module")
def pair() -> Iterator[ReplicatedPostgres]:
    with throwaway_replicated_postgres() as replicated:
        database.upgrade(replicated.dsn)
        yield replicated


@pytest.fixture
async def history(pair: ReplicatedPostgres) -> AsyncIterator[asyncpg.Pool]:
    """A pool on whichever server is the primary: the demo, every talk long enough to count."""
    pool = await database.create_pool(pair.dsn, size=2)
    await seed_demo(pool, datetime.now(UTC))
    await set_setting(
        pool, scope=Scope.GLOBAL, scope_value=None, key="min_talk_seconds", value="0",
        actor="test",
    )  # fmt: skip
    yield pool
    await pool.close()


async def test_the_router_routes_and_learns_across_a_promotion_without_a_restart(
    sandbox: Sandbox,
    router: Router,
    pair: ReplicatedPostgres,
    history: asyncpg.Pool,
    asterisk: LocalAsterisk,
    phone_logs: Path,
) -> None:
    settings = dataclasses.replace(
        sandbox.router_settings(),
        database_url=pair.dsn,
        journal_path=sandbox.journal_dir / "failover.journal",
    )
    async with replacing(router, settings) as routing:
        with AgentPhones(asterisk, phone_logs, {"agent2": "uas_answer.xml"}) as phones:
            assert_calls_succeeded(await call(asterisk, phone_logs, caller_id=IVAN, hold_ms=1500))
            assert phones.rung() == {"agent1": 0, "agent2": 1, "agent3": 0, "agent4": 0}
        with AgentPhones(asterisk, phone_logs, {"agent1": "uas_answer.xml"}):
            assert_calls_succeeded(
                await call(asterisk, phone_logs, caller_id=NEWCOMER, hold_ms=1500)
            )
        assert await routing.quiesce(10), "what the calls taught was not committed"
        assert pair.sync_state() == "streaming sync"

        pair.fail_primary()
        with AgentPhones(asterisk, phone_logs, {"agent1": "uas_answer.xml"}):
            # No server takes writes: the caller is queued, not dropped.
            assert_calls_succeeded(
                await call(asterisk, phone_logs, caller_id=IN_THE_GAP, hold_ms=1500)
            )
        assert not await routing.quiesce(0.5), "nothing can be written in the gap"

        pair.promote()
        assert await routing.quiesce(20), "the gap's call never reached the promoted standby"
        with AgentPhones(asterisk, phone_logs, {"agent1": "uas_answer.xml"}) as phones:
            assert_calls_succeeded(
                await call(asterisk, phone_logs, caller_id=NEWCOMER, hold_ms=1500)
            )
            # Learned before the primary died, read from the promoted standby: sticky.
            assert phones.rung() == {"agent1": 1, "agent2": 0, "agent3": 0, "agent4": 0}
        assert await routing.quiesce(10)

    promoted = await database.create_pool(pair.standby.dsn, size=1)
    try:
        gap = await settled(promoted, IN_THE_GAP)
        assert (gap["route"], gap["route_reason"]) == ("queue", "db_error")
        answered = [leg["agent"] for leg in await legs(promoted, gap["id"]) if leg["answered_at"]]
        assert answered == ["agent1"]
        calls = await promoted.fetch(
            "SELECT route, route_reason FROM interactions WHERE caller_number = $1"
            " ORDER BY started_at",
            "+" + NEWCOMER,
        )
        assert [(row["route"], row["route_reason"]) for row in calls] == [
            ("queue", "no_history"),
            ("sticky", "last_agent"),
        ]
    finally:
        await promoted.close()
