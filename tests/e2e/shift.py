"""agent2's shift, driven from the desk phone by feature code, with a callback after each step:
shared by the plain suite (tests/e2e) and the FreePBX-style one (tests/flavours)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg

from devkit.sandbox.asterisk import LocalAsterisk
from sticky_router.routing_core.settings import Scope
from sticky_router.routing_core.store.settings_store import set_setting
from testkit.sipp import assert_calls_succeeded
from tests.e2e.phones import AgentPhones, call, dial_feature_code

IVAN, SERGEY = "79123456701", "79123456703"  # the demo: agent2 helped them 42 min, 3 h ago


async def callback_outcome(
    asterisk: LocalAsterisk, pool: asyncpg.Pool, logs: Path, caller: str, dialled: str
) -> tuple[str, str | None, int]:
    """(outcome, its reason, how often agent2's desk phone rang) of one callback. Only agent2
    answers: a callback the queue takes waits there unanswered, so agent2 stays the caller's
    last agent for the next step."""
    with AgentPhones(asterisk, logs, {"agent2": "uas_answer.xml"}) as agents:
        assert_calls_succeeded(
            await call(asterisk, logs, caller_id=caller, dialled=dialled, hold_ms=1000)
        )
    for _ in range(50):
        row = await pool.fetchrow(
            "SELECT outcome, outcome_reason FROM interactions WHERE caller_number = $1"
            " AND call_id NOT LIKE 'demo-%' ORDER BY started_at DESC LIMIT 1",
            "+" + caller,
        )
        if row is not None and row["outcome"] is not None:
            return row["outcome"], row["outcome_reason"], agents.rung()["agent2"]
        await asyncio.sleep(0.1)
    raise AssertionError(f"the callback from {caller} was never recorded")


async def a_shift_of_agent2_by_feature_code(
    asterisk: LocalAsterisk, pool: asyncpg.Pool, logs: Path, dialled: str = "74950000000"
) -> None:
    """`dialled`: the number the callbacks call, which picks ARI or FastAGI mode."""
    # A whole day's window: Sergey (3 hours ago) is agent2's caller too.
    await set_setting(
        pool, scope=Scope.GLOBAL, scope_value=None, key="window_minutes", value=1440,
        actor="shift",
    )  # fmt: skip
    await dial_feature_code(asterisk, logs / "out", "agent2", "*46")
    assert await callback_outcome(asterisk, pool, logs / "c1", IVAN, dialled) == (
        "queue", "offline", 0
    )  # fmt: skip
    await dial_feature_code(asterisk, logs / "in", "agent2", "*45")
    await dial_feature_code(asterisk, logs / "pause", "agent2", "*47")
    assert await callback_outcome(asterisk, pool, logs / "c2", SERGEY, dialled) == (
        "queue", "paused", 0
    )  # fmt: skip
    await dial_feature_code(asterisk, logs / "back", "agent2", "*48")
    assert await callback_outcome(asterisk, pool, logs / "c3", IVAN, dialled) == ("sticky", None, 1)
