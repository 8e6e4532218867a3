"""The hooks on the agent's leg, on the real Asterisk 22 (dialplan/sticky-router.conf): the
caller's name on the agent's phone through a pre-dial hook of the sticky Dial() and of Queue(),
and only when there is one to show (a pre-dial hook holds the caller in autoservice, which delays
the ring); the sticky leg's STICKYRING line in the queue_log written when the agent answers, and
not for a ring nobody answered."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import pytest

from devkit.sandbox.asterisk import LocalAsterisk
from sticky_router.routing_core.settings import Scope
from sticky_router.routing_core.store.settings_store import set_setting
from testkit.sip_log import received
from testkit.sipp import assert_calls_succeeded
from tests.e2e.phones import AgentPhones, call
from tests.e2e.records import legs, settled

IVAN = "79123456701"  # the demo: agent2 helped him 42 minutes ago, ticket T-1001
SERGEY = "79123456703"  # the demo: agent2 helped him 3 hours ago, outside the window: the queue

pytestmark = pytest.mark.usefixtures("fresh")


def queue_log(asterisk: LocalAsterisk) -> Path:
    return asterisk.instance_dir / "log" / "queue_log"


async def sticky_lines(asterisk: LocalAsterisk, call_id: str) -> list[list[str]]:
    """The queue_log's STICKY* lines of one call: `time|callid|queue|agent|event|data...`."""
    text = await asyncio.to_thread(queue_log(asterisk).read_text)
    lines = [line.split("|") for line in text.splitlines()]
    return [fields for fields in lines if fields[1:2] == [call_id] and "STICKY" in fields[4]]


@pytest.mark.parametrize("named", [True, False])
async def test_the_agents_phone_shows_the_ticket_name_only_when_the_setting_asks(
    asterisk: LocalAsterisk, pool: asyncpg.Pool, phone_logs: Path, named: bool
) -> None:
    await set_setting(
        pool, scope=Scope.GLOBAL, scope_value=None, key="callerid_name_prefix", value=named,
        actor="e2e",
    )  # fmt: skip
    with AgentPhones(asterisk, phone_logs, {"agent2": "uas_answer.xml"}) as phones:
        result = await call(asterisk, phone_logs, caller_id=IVAN, hold_ms=1500)
        assert_calls_succeeded(result)
    assert phones.rung() == {"agent1": 0, "agent2": 1, "agent3": 0, "agent4": 0}
    [invite] = received(phone_logs / "agent2.messages.log")
    if named:
        assert invite.from_display_name == "[T-1001] Ivan Petrov"
    else:
        assert not (invite.from_display_name or "").startswith("[T-1001]")
    row = await settled(pool, IVAN)
    assert row["outcome"] == "sticky"
    [leg] = await legs(pool, row["id"])
    # Either way the answered leg is in Asterisk's own record, by the agent channel's id, and
    # its end after it.
    lines = await sticky_lines(asterisk, row["call_id"])
    assert [fields[4] for fields in lines] == ["STICKYRING", "STICKYEND"]
    assert lines[0][3] == "PJSIP/agent2"
    assert lines[0][5] == leg["leg_id"]


async def test_a_ring_nobody_answered_leaves_no_sticky_line(
    asterisk: LocalAsterisk, pool: asyncpg.Pool, phone_logs: Path
) -> None:
    ring_timeout = 3
    await set_setting(
        pool, scope=Scope.GLOBAL, scope_value=None, key="ring_timeout_seconds",
        value=ring_timeout, actor="e2e",
    )  # fmt: skip
    scenarios = {"agent1": "uas_answer.xml", "agent2": "uas_noanswer.xml"}
    with AgentPhones(asterisk, phone_logs, scenarios, ring_ms={"agent1": 300}) as phones:
        result = await call(
            asterisk, phone_logs, caller_id=IVAN, hold_ms=ring_timeout * 1000 + 2000
        )
        assert_calls_succeeded(result)
    assert phones.rung()["agent2"] >= 1  # the sticky ring (and the queue's ring-all after it)
    row = await settled(pool, IVAN)
    assert (row["outcome"], row["outcome_reason"]) == ("queue", "no_answer")
    assert await sticky_lines(asterisk, row["call_id"]) == []
    # The router saw the ring live: the leg is recorded all the same.
    agent2_leg = (await legs(pool, row["id"]))[0]
    assert (agent2_leg["agent"], agent2_leg["answered_at"]) == ("agent2", None)


@pytest.mark.parametrize("named", [True, False])
async def test_a_queue_members_phone_shows_the_name_only_when_the_setting_asks(
    asterisk: LocalAsterisk, pool: asyncpg.Pool, phone_logs: Path, named: bool
) -> None:
    await set_setting(
        pool, scope=Scope.GLOBAL, scope_value=None, key="callerid_name_prefix", value=named,
        actor="e2e",
    )  # fmt: skip
    with AgentPhones(asterisk, phone_logs, {"agent1": "uas_answer.xml"}) as phones:
        result = await call(asterisk, phone_logs, caller_id=SERGEY, hold_ms=1500)
        assert_calls_succeeded(result)
    assert phones.rung()["agent1"] == 1
    row = await settled(pool, SERGEY)
    assert (row["route"], row["outcome"]) == ("queue", "queue")
    names = {invite.from_display_name for invite in received(phone_logs / "agent1.messages.log")}
    if named:
        assert names == {"Sergey Volkov"}
    else:
        assert "Sergey Volkov" not in names
