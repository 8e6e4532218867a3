"""Nothing learned is lost: what the router learns during a database stall or restart is kept
and written once PostgreSQL answers again, so the next callback is still sticky.

Real Asterisk 22, SIPp phones, real PostgreSQL; the stall is a table lock held by another
session (what a migration or a runaway report does), the restart is PostgreSQL's own.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import pytest

from devkit.sandbox.asterisk import LocalAsterisk
from devkit.sandbox.postgres import LocalPostgres
from sticky_router.process.agi_process import AgiProcess
from sticky_router.process.router import Router
from testkit.sipp import assert_calls_succeeded
from tests.e2e.phones import AGENTS, AgentPhones, call
from tests.e2e.records import legs, settled

pytestmark = pytest.mark.usefixtures("fresh")

# Long enough to count as a conversation (min_talk_seconds is 10 by default); the fault comes
# near its end, so the end is learned during the fault.
TALK_MS = 11_000
FAULT_AFTER_ANSWER = 9.5


async def _answered(pool: asyncpg.Pool, number: str) -> None:
    """Until the call from `number` is recorded as answered (the AMI learner heard the agent)."""
    for _ in range(200):
        if await pool.fetchval(
            "SELECT true FROM interactions WHERE caller_number = $1 AND answered_at IS NOT NULL",
            "+" + number,
        ):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"the call from {number} was never recorded as answered")


async def _locked(pool: asyncpg.Pool, seconds: float) -> None:
    async with pool.acquire() as locker, locker.transaction():
        await locker.execute("LOCK TABLE interactions, interaction_legs IN ACCESS EXCLUSIVE MODE")
        await asyncio.sleep(seconds)


async def test_a_call_that_ends_during_a_four_second_stall_is_remembered(
    asterisk: LocalAsterisk, pool: asyncpg.Pool, phone_logs: Path
) -> None:
    """The issue's own trial: a caller with no history is answered by agent1 from the queue; the
    history tables are locked for about 4 s while the call ends. The callback rings agent1."""
    caller = "79990000031"
    with AgentPhones(asterisk, phone_logs, {"agent1": "uas_answer.xml"}) as phones:
        placed = asyncio.ensure_future(
            call(asterisk, phone_logs, caller_id=caller, hold_ms=TALK_MS)
        )
        await _answered(pool, caller)
        await asyncio.sleep(FAULT_AFTER_ANSWER)
        await _locked(pool, 4.5)  # the caller hangs up about a second into the stall
        assert_calls_succeeded(await placed)
    assert phones.rung() == {"agent1": 1, "agent2": 1, "agent3": 1, "agent4": 1}
    first = await settled(pool, caller)
    assert first["ended_at"] is not None, "the end of the call was lost"
    answered = [leg["agent"] for leg in await legs(pool, first["id"]) if leg["answered_at"]]
    assert answered == ["agent1"]

    await _callback_rings_only(asterisk, phone_logs, caller, "agent1")


async def test_a_call_answered_while_postgres_restarts_is_remembered(
    asterisk: LocalAsterisk, pool: asyncpg.Pool, postgres: LocalPostgres, phone_logs: Path
) -> None:
    """PostgreSQL stops while the call is up and comes back after it ended: the end written on
    the router's stale pooled connections is retried, not dropped."""
    caller = "79990000032"
    with AgentPhones(asterisk, phone_logs, {"agent3": "uas_answer.xml"}) as phones:
        placed = asyncio.ensure_future(
            call(asterisk, phone_logs, caller_id=caller, hold_ms=TALK_MS)
        )
        await _answered(pool, caller)
        await asyncio.sleep(FAULT_AFTER_ANSWER)
        await asyncio.to_thread(postgres.stop)
        assert_calls_succeeded(await placed)
        await asyncio.sleep(1.0)
        await asyncio.to_thread(postgres.start)
    assert phones.rung()["agent3"] == 1
    first = await settled(pool, caller)
    assert first["ended_at"] is not None, "the end of the call was lost"

    await _callback_rings_only(asterisk, phone_logs, caller, "agent3")


async def _learned(pool: asyncpg.Pool, number: str, seconds: float = 30.0) -> None:
    """Until a call from `number` is in the history with its end (the queue_log is read only
    after its lines settled, a few seconds)."""
    for _ in range(round(seconds / 0.2)):
        if await pool.fetchval(
            "SELECT true FROM interactions WHERE caller_number = $1 AND ended_at IS NOT NULL",
            "+" + number,
        ):
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"the call from {number} was never learned")


async def test_a_call_answered_in_the_queue_while_the_router_was_down_is_learned_after(
    asterisk: LocalAsterisk, pool: asyncpg.Pool, router: Router, phone_logs: Path
) -> None:
    """No router: the dialplan queues the call (Stasis fails) and agent4 answers. Nobody hears
    it live; once the router is back it reads Asterisk's queue_log, and the callback is sticky
    to agent4."""
    caller = "79990000033"
    await router.stop()
    try:
        with AgentPhones(asterisk, phone_logs, {"agent4": "uas_answer.xml"}) as phones:
            result = await call(asterisk, phone_logs, caller_id=caller, hold_ms=TALK_MS)
            assert_calls_succeeded(result)
        assert phones.rung() == {"agent1": 1, "agent2": 1, "agent3": 1, "agent4": 1}
    finally:
        await router.start()
        await router.wait_connected(10)
    await _learned(pool, caller)
    first = await settled(pool, caller)
    answered = [leg["agent"] for leg in await legs(pool, first["id"]) if leg["answered_at"]]
    assert answered == ["agent4"]

    await _callback_rings_only(asterisk, phone_logs, caller, "agent4")


async def test_in_agi_mode_a_call_that_ends_during_a_stall_is_remembered(
    agi: AgiProcess, asterisk: LocalAsterisk, pool: asyncpg.Pool, phone_logs: Path
) -> None:
    """The same trial through the FastAGI dialplan: the `answered` and `ended` hooks report
    to the FastAGI process, whose own journal keeps what the stall would have cost."""
    caller = "79990000034"
    with AgentPhones(asterisk, phone_logs, {"agent1": "uas_answer.xml"}):
        placed = asyncio.ensure_future(
            call(asterisk, phone_logs, caller_id=caller, dialled="agi", hold_ms=TALK_MS)
        )
        await _answered(pool, caller)
        await asyncio.sleep(FAULT_AFTER_ANSWER)
        await _locked(pool, 4.5)
        assert_calls_succeeded(await placed)
    await _learned(pool, caller)
    await _callback_rings_only(asterisk, phone_logs, caller, "agent1", dialled="agi")


async def _callback_rings_only(
    asterisk: LocalAsterisk, phone_logs: Path, caller: str, agent: str, dialled: str = "74950000000"
) -> None:
    """The caller's callback rings `agent`, and nobody else."""
    logs = phone_logs.parent / "callback"
    with AgentPhones(asterisk, logs, {agent: "uas_answer.xml"}) as phones:
        result = await call(
            asterisk, logs, caller_id=caller, dialled=dialled, hold_ms=1000, name="again"
        )
        assert_calls_succeeded(result)
    assert phones.rung() == {name: int(name == agent) for name in AGENTS}
