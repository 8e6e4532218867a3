"""Transfers of calls the router connected, on a real Asterisk 22 with SIPp phones.

The first-line agent who receives a sticky callback and hands it on must not lose the caller:
the caller stays connected to whoever takes the transfer, the target's leg is recorded as
transferred from the sticky leg, and the next callback follows rule 1 of docs/routing.md
(the specialist). Ivan (+79123456701) last spoke with agent2; agent3 is a specialist.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest

from devkit.sandbox.asterisk import LocalAsterisk
from sticky_router.routing_core import IncomingCall, RoutingService, StickyDecision
from sticky_router.routing_core.settings import Scope
from sticky_router.routing_core.store.settings_store import set_setting
from testkit.sipp import assert_calls_succeeded
from testkit.waiting import eventually
from tests.e2e.phones import AgentPhones, call, requests_received
from tests.e2e.records import legs, settled

IVAN = "79123456701"

pytestmark = pytest.mark.usefixtures("fresh")


async def next_callback_target(pool: asyncpg.Pool, number: str) -> tuple[str, str] | None:
    """Whom a callback from `number` would ring first now, and why (a preview: nothing claimed)."""
    service = RoutingService(pool, default_region="RU", db_budget_seconds=5)
    decision = await service.decide(
        IncomingCall("preview", number, datetime.now(UTC), "support"), claim=False
    )
    if not isinstance(decision, StickyDecision):
        return None
    return decision.target.agent.name, decision.target.reason.value


async def count_short_talks(pool: asyncpg.Pool) -> None:
    """Test calls talk for seconds; let them count as conversations (default minimum 10 s)."""
    await set_setting(
        pool, scope=Scope.GLOBAL, scope_value=None, key="min_talk_seconds", value=1, actor="e2e"
    )


async def assert_ivan_was_handed_to_agent3(
    pool: asyncpg.Pool, phones: AgentPhones, phone_logs: Path
) -> None:
    """Ivan talked with agent3 to the end: agent3 rang once, was never cancelled and got Ivan's
    BYE; Ivan got no BYE; agent3's leg is a completed handover from agent2's sticky leg, no
    second decision was made, and the next callback goes to agent3 (rule 1)."""
    assert phones.rung() == {"agent1": 0, "agent2": 1, "agent3": 1, "agent4": 0}
    assert phones.requests("agent3", "CANCEL") == []
    assert len(phones.requests("agent3", "BYE")) == 1
    caller_received = requests_received(phone_logs / "caller.messages.log")
    assert [r.method for r in caller_received if r.method == "BYE"] == []

    row = await settled(pool, IVAN)
    assert (row["route"], row["outcome"], row["hangup_side"]) == ("sticky", "sticky", "caller")
    by_agent = {leg["agent"]: leg for leg in await legs(pool, row["id"])}
    assert set(by_agent) == {"agent2", "agent3"}
    assert by_agent["agent2"]["answered_at"] is not None
    assert by_agent["agent3"]["transferred_from_leg_id"] == by_agent["agent2"]["leg_id"]
    assert by_agent["agent3"]["answered_at"] is not None
    assert by_agent["agent3"]["consultation"] is False
    count = await pool.fetchval("SELECT count(*) FROM interactions WHERE call_id !~ '^demo'")
    assert count == 1
    assert await next_callback_target(pool, "+" + IVAN) == ("agent3", "escalated_to_specialist")


async def test_a_sticky_call_blind_transferred_by_refer_keeps_the_caller_talking(
    asterisk: LocalAsterisk, pool: asyncpg.Pool, phone_logs: Path
) -> None:
    """agent2 takes Ivan's sticky callback and sends REFER to agent3, who answers. The caller
    stays in the call until it hangs up by itself, 6 s after its answer."""
    await count_short_talks(pool)
    refer_to = ["-key", "refer_to", f"sip:agent3@127.0.0.1:{asterisk.sip_port}"]
    scenarios = {"agent2": "uas_blind_transfer.xml", "agent3": "uas_answer.xml"}
    with AgentPhones(asterisk, phone_logs, scenarios, extra_args={"agent2": refer_to}) as phones:
        result = await call(asterisk, phone_logs, caller_id=IVAN, hold_ms=6000)
        # The caller's scenario fails on any BYE it did not send itself.
        assert_calls_succeeded(result)
        await asyncio.sleep(0.3)
    await assert_ivan_was_handed_to_agent3(pool, phones, phone_logs)


async def test_a_sticky_call_handed_on_with_the_attended_transfer_key_keeps_the_caller(
    asterisk: LocalAsterisk, pool: asyncpg.Pool, phone_logs: Path
) -> None:
    """agent2 takes Ivan's sticky callback, keys *2 and 103 on the desk phone (the PBX's
    attended transfer, features.conf), talks with agent3, then hangs up: Ivan talks with agent3
    until Ivan hangs up."""
    await count_short_talks(pool)
    keys = ["-key", "dtmf", "*2103", "-key", "then", "hangup"]
    scenarios = {"agent2": "uas_feature_transfer.xml", "agent3": "uas_answer.xml"}
    with AgentPhones(asterisk, phone_logs, scenarios, extra_args={"agent2": keys}) as phones:
        result = await call(asterisk, phone_logs, caller_id=IVAN, hold_ms=11000)
        assert_calls_succeeded(result)
        await asyncio.sleep(0.3)
        agent2_sent = requests_received(phone_logs / "agent2.messages.log", "sent")
        assert [r.method for r in agent2_sent if r.method == "BYE"] == ["BYE"]
    await assert_ivan_was_handed_to_agent3(pool, phones, phone_logs)


async def test_a_consultation_the_specialist_declines_is_no_escalation(
    asterisk: LocalAsterisk, pool: asyncpg.Pool, phone_logs: Path
) -> None:
    """agent2 takes Ivan's sticky callback and consults agent3 (*2 103); agent3 answers, talks
    briefly and hangs up; agent2 finishes with Ivan. The next callback goes back to agent2:
    the caller never reached agent3 and was not waiting for them."""
    await count_short_talks(pool)
    keys = ["-key", "dtmf", "*2103", "-key", "then", "stay"]
    scenarios = {"agent2": "uas_feature_transfer.xml", "agent3": "uas_answer_hangup.xml"}
    with AgentPhones(asterisk, phone_logs, scenarios, extra_args={"agent2": keys}) as phones:
        result = await call(asterisk, phone_logs, caller_id=IVAN, hold_ms=11000)
        assert_calls_succeeded(result)
        await asyncio.sleep(0.3)
        assert phones.rung() == {"agent1": 0, "agent2": 1, "agent3": 1, "agent4": 0}
        agent3_sent = requests_received(phone_logs / "agent3.messages.log", "sent")
        assert [r.method for r in agent3_sent if r.method == "BYE"] == ["BYE"]  # declined
        assert len(phones.requests("agent2", "BYE")) == 1  # the caller's end reached agent2

    row = await settled(pool, IVAN)
    assert (row["outcome"], row["hangup_side"]) == ("sticky", "caller")
    by_agent = {leg["agent"]: leg for leg in await legs(pool, row["id"])}
    assert by_agent["agent3"]["transferred_from_leg_id"] == by_agent["agent2"]["leg_id"]
    assert by_agent["agent3"]["consultation"] is True  # never a handover
    assert await next_callback_target(pool, "+" + IVAN) == ("agent2", "last_agent")


UNKNOWN = "79990000005"  # a caller the demo does not know: what the first call teaches is all


async def test_an_escalation_to_the_second_line_queue_is_remembered_though_nobody_took_it(
    asterisk: LocalAsterisk, pool: asyncpg.Pool, phone_logs: Path
) -> None:
    """agent1 (first line) answers a queue call and blind-transfers it (REFER) to the
    second-line queue, where nobody is free (agent3 paused); the caller gives up. The callback
    goes straight to the second-line queue: agent3 rings, first line does not."""
    for agent in ("agent2", "agent3", "agent4"):
        await asyncio.to_thread(asterisk.cli, f"queue pause member PJSIP/{agent} queue support")
    await asyncio.to_thread(asterisk.cli, "queue pause member PJSIP/agent3 queue second-line")
    refer_to = ["-key", "refer_to", f"sip:second-line@127.0.0.1:{asterisk.sip_port}"]
    first_logs = phone_logs / "first"
    scenarios = {"agent1": "uas_blind_transfer.xml"}
    with AgentPhones(asterisk, first_logs, scenarios, extra_args={"agent1": refer_to}) as phones:
        result = await call(asterisk, first_logs, caller_id=UNKNOWN, hold_ms=5000)
        assert_calls_succeeded(result)
    assert phones.rung() == {"agent1": 1, "agent2": 0, "agent3": 0, "agent4": 0}
    first = await settled(pool, UNKNOWN)

    async def escalation_recorded() -> bool:
        # AMI's QueueCallerJoin reaches the history through the journal, possibly after the
        # call's end (from the ARI side) has: wait for it, as for the end.
        row = await pool.fetchrow(
            "SELECT escalated_queue FROM interactions WHERE id = $1", first["id"]
        )
        return row is not None and row["escalated_queue"] is not None

    with contextlib.suppress(AssertionError):
        await eventually(escalation_recorded, 5.0)
    first = await settled(pool, UNKNOWN)
    assert first["escalated_queue"] == "second-line"

    await asyncio.to_thread(asterisk.cli, "queue unpause member PJSIP/agent3")
    for agent in ("agent2", "agent4"):
        await asyncio.to_thread(asterisk.cli, f"queue unpause member PJSIP/{agent} queue support")
    callback_logs = phone_logs / "callback"
    with AgentPhones(asterisk, callback_logs, {"agent3": "uas_answer.xml"}) as phones:
        result = await call(asterisk, callback_logs, caller_id=UNKNOWN, hold_ms=1500)
        assert_calls_succeeded(result)
    assert phones.rung() == {"agent1": 0, "agent2": 0, "agent3": 1, "agent4": 0}
    callback = await pool.fetchrow(
        "SELECT * FROM interactions WHERE caller_number = $1 AND call_id <> $2",
        "+" + UNKNOWN, first["call_id"],
    )  # fmt: skip
    assert callback is not None
    assert (callback["route"], callback["route_reason"]) == ("queue", "escalated_to_queue")


async def escalations_of_support_go_to_second_line(pool: asyncpg.Pool) -> None:
    await set_setting(
        pool, scope=Scope.QUEUE, scope_value="support", key="escalation_queue",
        value="second-line", actor="e2e",
    )  # fmt: skip


OLGA = "79123456702"  # hung up 25 minutes ago while being transferred to specialist agent3


async def test_a_specialist_is_checked_in_the_queue_they_work_in(
    asterisk: LocalAsterisk, pool: asyncpg.Pool, phone_logs: Path
) -> None:
    """agent3 is not in the first-line queue at all, only in second-line, where support's
    escalations go: the callback still rings agent3 directly."""
    await escalations_of_support_go_to_second_line(pool)
    await asyncio.to_thread(asterisk.log_out_agent, "agent3")
    with AgentPhones(asterisk, phone_logs, {"agent3": "uas_answer.xml"}) as phones:
        result = await call(asterisk, phone_logs, caller_id=OLGA, hold_ms=1500)
        assert_calls_succeeded(result)
    assert phones.rung() == {"agent1": 0, "agent2": 0, "agent3": 1, "agent4": 0}
    row = await settled(pool, OLGA)
    assert (row["route"], row["route_reason"], row["outcome"]) == (
        "sticky", "escalated_to_specialist", "sticky"
    )  # fmt: skip


async def test_a_missed_specialist_falls_back_to_second_line_never_to_first_line(
    asterisk: LocalAsterisk, pool: asyncpg.Pool, phone_logs: Path
) -> None:
    """agent3 does not answer Olga's callback: the call goes on to second-line (where agent3
    rings again), and no first-line agent rings."""
    await escalations_of_support_go_to_second_line(pool)
    await set_setting(
        pool, scope=Scope.GLOBAL, scope_value=None, key="ring_timeout_seconds", value=3,
        actor="e2e",
    )  # fmt: skip
    with AgentPhones(asterisk, phone_logs, {"agent3": "uas_noanswer.xml"}) as phones:
        result = await call(asterisk, phone_logs, caller_id=OLGA, hold_ms=7000)
        assert_calls_succeeded(result)
    rung = phones.rung()
    assert (rung["agent1"], rung["agent2"], rung["agent4"]) == (0, 0, 0)
    assert rung["agent3"] >= 2  # the sticky attempt, then second-line's ringall
    row = await settled(pool, OLGA)
    assert (row["route"], row["outcome"], row["outcome_reason"]) == (
        "sticky", "queue", "no_answer"
    )  # fmt: skip
