"""Real calls with the router's database behind PgBouncer in transaction mode (issue 17):
STICKY_DATABASE_URL the pooler with two server sessions, STICKY_DATABASE_DIRECT_URL PostgreSQL
itself. A sticky call still rings agent2 and what Asterisk reports is still learned."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest

from devkit.sandbox.asterisk import LocalAsterisk
from devkit.sandbox.pgbouncer import LocalPgBouncer, throwaway_pgbouncer
from devkit.sandbox.stack import Sandbox
from sticky_router.process.router import Router
from testkit.sipp import assert_calls_succeeded
from tests.e2e.phones import AgentPhones, call
from tests.e2e.records import legs, settled
from tests.e2e.replacement import replacing

IVAN = "79123456701"
UNKNOWN = "79990000001"

pytestmark = pytest.mark.usefixtures("fresh")


@pytest.fixture(scope="module")
def bouncer(sandbox: Sandbox) -> Iterator[LocalPgBouncer]:
    with throwaway_pgbouncer(sandbox.postgres, server_sessions=2) as started:
        yield started


async def test_behind_pgbouncer_ivan_reaches_agent2_and_a_queue_call_is_learned(
    sandbox: Sandbox,
    router: Router,
    bouncer: LocalPgBouncer,
    asterisk: LocalAsterisk,
    pool: asyncpg.Pool,
    phone_logs: Path,
) -> None:
    settings = dataclasses.replace(
        sandbox.router_settings(),
        database_url=bouncer.dsn,
        database_direct_url=sandbox.postgres.dsn,
    )
    async with replacing(router, settings) as pooled:
        with AgentPhones(asterisk, phone_logs, {"agent2": "uas_answer.xml"}) as phones:
            assert_calls_succeeded(await call(asterisk, phone_logs, caller_id=IVAN, hold_ms=1500))
            assert phones.rung() == {"agent1": 0, "agent2": 1, "agent3": 0, "agent4": 0}
            assert_calls_succeeded(
                await call(asterisk, phone_logs, caller_id=UNKNOWN, hold_ms=1500)
            )
        assert await pooled.quiesce(10), "the journal did not drain through the pooler"
    sticky = await settled(pool, IVAN)
    assert (sticky["route"], sticky["outcome"]) == ("sticky", "sticky")
    queued = await settled(pool, UNKNOWN)
    assert (queued["route"], queued["route_reason"]) == ("queue", "no_history")
    # Learned from AMI through the pooler: who answered each call.
    for row in (sticky, queued):
        assert [leg["agent"] for leg in await legs(pool, row["id"]) if leg["answered_at"]] == [
            "agent2"
        ]
    log = bouncer.log
    assert "login attempt: db=sticky" in log, "the router never came through PgBouncer"
    assert "unsupported startup parameter" not in log
