"""Routing that follows the ticket (issue 16), on real calls: Ivan's last call, 42 minutes ago
with agent2, was about T-1001. With no window after resolution, his callback is sticky to agent2
while T-1001 is open; once agent2 has resolved it, the callback goes to the queue (every agent
rings) and is recorded with the reason `ticket_resolved` (both modes). A follow-up promised on
T-1001 and now overdue puts him ahead of those already waiting in the queue."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import pytest

from devkit.sandbox.asterisk import LocalAsterisk
from sticky_router.process.agi_process import AgiProcess
from sticky_router.routing_core.settings import Scope
from sticky_router.routing_core.store.settings_store import set_setting
from testkit.sipp import assert_calls_succeeded
from tests.e2e.phones import AgentPhones, call

pytestmark = pytest.mark.usefixtures("fresh")

IVAN = "79123456701"


async def newest(pool: asyncpg.Pool, after: int) -> asyncpg.Record:
    """Ivan's call recorded after interaction `after`, once its end is recorded too."""
    for _ in range(100):
        row = await pool.fetchrow(
            "SELECT * FROM interactions WHERE caller_number = $1 AND id > $2 "
            "ORDER BY id DESC LIMIT 1",
            "+" + IVAN, after,
        )  # fmt: skip
        if row is not None and row["ended_at"] is not None:
            return row
        await asyncio.sleep(0.1)
    raise AssertionError("Ivan's call was never recorded to its end")


async def callback(
    asterisk: LocalAsterisk, logs: Path, pool: asyncpg.Pool, dialled: str
) -> tuple[dict[str, int], asyncpg.Record]:
    before = await pool.fetchval("SELECT coalesce(max(id), 0) FROM interactions")
    with AgentPhones(asterisk, logs, {"agent1": "uas_answer.xml", "agent2": "uas_answer.xml"},
                     ring_ms={"agent1": 600, "agent2": 300}) as phones:  # fmt: skip
        assert_calls_succeeded(
            await call(asterisk, logs, caller_id=IVAN, dialled=dialled, hold_ms=1500)
        )
    return phones.rung(), await newest(pool, before)


async def resolved_ticket_scenario(
    asterisk: LocalAsterisk, pool: asyncpg.Pool, logs: Path, dialled: str
) -> None:
    await set_setting(pool, scope=Scope.GLOBAL, scope_value=None,
                      key="resolved_ticket_window_minutes", value=0, actor="e2e")  # fmt: skip
    rung, row = await callback(asterisk, logs / "open", pool, dialled)
    assert rung == {"agent1": 0, "agent2": 1, "agent3": 0, "agent4": 0}
    assert (row["route"], row["outcome"]) == ("sticky", "sticky")

    # What the agent screen's "Mark resolved" writes (web/agent/actions.py resolve).
    await pool.execute("UPDATE tickets SET status = 'resolved' WHERE external_id = 'T-1001'")
    rung, row = await callback(asterisk, logs / "resolved", pool, dialled)
    assert rung["agent2"] >= 1  # the queue's ringall rings everyone, agent2 included
    assert rung["agent1"] == 1
    assert (row["route"], row["route_reason"]) == ("queue", "ticket_resolved")


async def test_a_resolved_ticket_sends_the_callback_to_the_queue(
    asterisk: LocalAsterisk, pool: asyncpg.Pool, phone_logs: Path
) -> None:
    await resolved_ticket_scenario(asterisk, pool, phone_logs, "74950000000")


async def test_a_resolved_ticket_sends_the_fastagi_callback_to_the_queue(
    agi: AgiProcess, asterisk: LocalAsterisk, pool: asyncpg.Pool, phone_logs: Path
) -> None:
    await resolved_ticket_scenario(asterisk, pool, phone_logs, "agi")


SERGEY = "79123456703"  # no open ticket, window expired: a plain queue call


async def test_a_caller_we_owe_a_promised_call_waits_in_the_queue_with_a_higher_priority(
    asterisk: LocalAsterisk, pool: asyncpg.Pool, phone_logs: Path
) -> None:
    """Nobody answers. Ivan, whose T-1001 carries a follow-up promised for an hour ago, waits in
    Asterisk's queue with priority 5 (QUEUE_PRIO: ahead of anyone waiting with less); Sergey,
    owed nothing, with 0. (agent2, Ivan's agent, is paused: straight to the queue.)"""
    await set_setting(pool, scope=Scope.GLOBAL, scope_value=None,
                      key="overdue_promise_priority_boost", value=5, actor="e2e")  # fmt: skip
    await pool.execute("UPDATE tickets SET promised_by = now() - interval '1 hour' "
                       "WHERE external_id = 'T-1001'")  # fmt: skip
    await asyncio.to_thread(asterisk.cli, f"queue pause member {asterisk.member('agent2')} "
                            f"queue {asterisk.queue}")  # fmt: skip
    shown = {}
    for name, number in (("ivan", IVAN), ("sergey", SERGEY)):
        with AgentPhones(asterisk, phone_logs / name, {}):  # every phone rings, none answers
            caller = asyncio.create_task(
                call(asterisk, phone_logs / name, caller_id=number, hold_ms=3000)
            )
            (shown[name],) = await wait_for_callers(asterisk, 1)
            await caller
    assert "prio: 5" in shown["ivan"], shown
    assert "prio: 0" in shown["sergey"], shown


async def wait_for_callers(asterisk: LocalAsterisk, count: int) -> list[str]:
    """The callers `queue show support` lists, once there are `count` of them, in queue order."""
    for _ in range(150):
        shown = await asyncio.to_thread(asterisk.cli, f"queue show {asterisk.queue}")
        callers = [line.strip() for line in shown.splitlines() if "(wait:" in line]
        if len(callers) >= count:
            return callers
        await asyncio.sleep(0.1)
    raise AssertionError(f"fewer than {count} callers ever waited: {shown}")
