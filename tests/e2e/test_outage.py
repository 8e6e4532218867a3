"""Outage mode on real calls (issue 16): with an outage declared for the support line, Ivan's
callback hears the notice once and goes to the queue (`outage`) instead of waiting for his
agent; ended, his next callback is sticky again. ARI and FastAGI modes."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import pytest

from devkit.sandbox.asterisk import LocalAsterisk
from sticky_router.process.agi_process import AgiProcess
from sticky_router.routing_core.store.incidents import NewIncident, declare, end
from testkit.sipp import assert_calls_succeeded
from tests.e2e.phones import AgentPhones, call
from tests.e2e.test_ticket_state_routing import IVAN, newest

pytestmark = pytest.mark.usefixtures("fresh", "prompts")

NOTICE = "sticky-router/outage-notice"


async def callback(
    asterisk: LocalAsterisk, pool: asyncpg.Pool, logs: Path, dialled: str
) -> tuple[dict[str, int], asyncpg.Record, int]:
    """Who rang, what was recorded, and how many times the notice was played."""
    before = await pool.fetchval("SELECT coalesce(max(id), 0) FROM interactions")
    log = asterisk.log_file
    start = await asyncio.to_thread(lambda: log.stat().st_size)
    with AgentPhones(asterisk, logs, {"agent1": "uas_answer.xml", "agent2": "uas_answer.xml"},
                     ring_ms={"agent1": 300, "agent2": 600}) as phones:  # fmt: skip
        # The notice (about 4 s) is said before routing: the caller stays past it.
        assert_calls_succeeded(
            await call(asterisk, logs, caller_id=IVAN, dialled=dialled, hold_ms=7000)
        )
    text = await asyncio.to_thread(lambda: log.read_bytes()[start:].decode(errors="replace"))
    return phones.rung(), await newest(pool, before), text.count(f"Playing '{NOTICE}.")


async def outage_scenario(
    asterisk: LocalAsterisk, pool: asyncpg.Pool, logs: Path, dialled: str
) -> None:
    async with pool.acquire() as connection, connection.transaction():
        incident = await declare(
            connection,
            NewIncident("queue", asterisk.queue, "fibre cut in the north", NOTICE, None),
            "admin:e2e",
        )
    rung, row, notices = await callback(asterisk, pool, logs / "outage", dialled)
    assert (row["route"], row["route_reason"]) == ("queue", "outage")
    assert rung["agent1"] == 1  # the queue rings everyone, not agent2 alone
    assert notices == 1  # said once, before routing
    async with pool.acquire() as connection, connection.transaction():
        assert await end(connection, incident, "admin:e2e")
    rung, row, notices = await callback(asterisk, pool, logs / "ended", dialled)
    assert (row["route"], row["outcome"]) == ("sticky", "sticky")
    assert rung == {"agent1": 0, "agent2": 1, "agent3": 0, "agent4": 0}
    assert notices == 0


async def test_an_outage_sends_callbacks_to_the_queue_with_its_notice(
    asterisk: LocalAsterisk, pool: asyncpg.Pool, phone_logs: Path
) -> None:
    await outage_scenario(asterisk, pool, phone_logs, "74950000000")


async def test_an_outage_does_the_same_in_fastagi_mode(
    agi: AgiProcess, asterisk: LocalAsterisk, pool: asyncpg.Pool, phone_logs: Path
) -> None:
    await outage_scenario(asterisk, pool, phone_logs, "agi")
