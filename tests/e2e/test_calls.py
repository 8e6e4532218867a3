"""Real calls through a real Asterisk 22: SIPp is the caller and every agent's phone.

The scenarios of the ARI issue, lettered as there. Demo callers (devkit/demo.py): Ivan
(+79123456701) last spoke with agent2 42 minutes ago; Sergey (+79123456703) spoke with agent2
3 hours ago, outside the 120-minute window. Numbers the demo does not know have no history.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import asyncpg
import pytest

from devkit.sandbox.asterisk import LocalAsterisk
from sticky_router.process.router import Router
from sticky_router.routing_core.settings import Scope
from sticky_router.routing_core.store.settings_store import set_setting
from testkit.sipp import SippPhone, assert_calls_succeeded
from tests.e2e.phones import AgentPhones, call, requests_received
from tests.e2e.records import agent_channel, legs, settled, sticky_lines, wait_for_device

IVAN = "79123456701"
SERGEY = "79123456703"
UNKNOWN = "79990000001"

pytestmark = pytest.mark.usefixtures("fresh")


async def test_a_first_call_goes_to_the_queue_and_who_answered_is_recorded(
    asterisk: LocalAsterisk, pool: asyncpg.Pool, phone_logs: Path
) -> None:
    with AgentPhones(asterisk, phone_logs, {"agent2": "uas_answer.xml"}) as phones:
        result = await call(asterisk, phone_logs, caller_id=UNKNOWN, hold_ms=2500)
        assert_calls_succeeded(result)
    assert phones.rung() == {"agent1": 1, "agent2": 1, "agent3": 1, "agent4": 1}  # ringall
    row = await settled(pool, UNKNOWN)
    assert (row["route"], row["route_reason"], row["outcome"]) == ("queue", "no_history", "queue")
    assert row["ended_at"] is not None
    assert row["hangup_side"] == "caller"
    answered = [leg["agent"] for leg in await legs(pool, row["id"]) if leg["answered_at"]]
    assert answered == ["agent2"]


async def test_b_callback_inside_the_window_rings_agent2_first_and_connects(
    asterisk: LocalAsterisk, pool: asyncpg.Pool, phone_logs: Path
) -> None:
    with AgentPhones(asterisk, phone_logs, {"agent2": "uas_answer.xml"}) as phones:
        result = await call(asterisk, phone_logs, caller_id=IVAN, hold_ms=1500)
        assert_calls_succeeded(result)
    assert phones.rung() == {"agent1": 0, "agent2": 1, "agent3": 0, "agent4": 0}
    row = await settled(pool, IVAN)
    assert (row["route"], row["route_reason"], row["outcome"]) == ("sticky", "last_agent", "sticky")
    assert row["hangup_side"] == "caller"
    # One leg, though the application and the AMI learner both report it: both know it by the
    # agent channel's own id (Dial() names it, not the router).
    [leg] = await legs(pool, row["id"])
    assert leg["agent"] == "agent2"
    assert leg["answered_at"] is not None
    assert leg["leg_id"] != row["call_id"]
    assert re.fullmatch(r"[0-9]+\.[0-9]+", leg["leg_id"])  # Asterisk's own uniqueid


async def test_c_agent2_on_another_call_means_the_queue_at_once(
    asterisk: LocalAsterisk, pool: asyncpg.Pool, phone_logs: Path
) -> None:
    scenarios = {"agent1": "uas_answer.xml", "agent2": "uas_answer.xml"}
    with AgentPhones(asterisk, phone_logs, scenarios) as phones:
        # agent2 takes another call first: a call Asterisk originates, waiting 30 s.
        await asyncio.to_thread(asterisk.cli, "channel originate PJSIP/agent2 application Wait 30")
        await wait_for_device(asterisk, "PJSIP/agent2", "INUSE", "BUSY")
        result = await call(asterisk, phone_logs, caller_id=IVAN, hold_ms=1500)
        assert_calls_succeeded(result)
    assert phones.rung()["agent2"] == 1  # only the other call
    assert phones.rung()["agent1"] == 1  # the queue found agent1
    row = await settled(pool, IVAN)
    assert (row["route"], row["outcome"], row["outcome_reason"]) == ("sticky", "queue", "busy")


async def test_c_with_a_busy_wait_agent2_is_rung_as_soon_as_free(
    asterisk: LocalAsterisk, pool: asyncpg.Pool, phone_logs: Path
) -> None:
    await set_setting(
        pool, scope=Scope.GLOBAL, scope_value=None, key="busy_wait_seconds", value=12, actor="e2e"
    )
    with AgentPhones(asterisk, phone_logs, {"agent2": "uas_answer.xml"}) as phones:
        await asyncio.to_thread(asterisk.cli, "channel originate PJSIP/agent2 application Wait 60")
        await wait_for_device(asterisk, "PJSIP/agent2", "INUSE", "BUSY")
        caller = asyncio.create_task(call(asterisk, phone_logs, caller_id=IVAN, hold_ms=1500))
        for _ in range(100):  # until the caller's INVITE is out
            if requests_received(phone_logs / "caller.messages.log", "sent"):
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(1.5)  # the router is waiting for agent2 now
        assert phones.rung()["agent2"] == 1
        await asyncio.to_thread(
            asterisk.cli, f"channel request hangup {await agent_channel(asterisk, 'agent2')}"
        )
        assert_calls_succeeded(await caller)
    other_call_ended = phones.requests("agent2", "BYE")[0].at
    rung_again = phones.requests("agent2")[1].at
    # Woken by the device-state event, not by a periodic re-check (every second).
    assert 0 <= (rung_again - other_call_ended).total_seconds() < 0.7
    assert phones.rung() == {"agent1": 0, "agent2": 2, "agent3": 0, "agent4": 0}
    row = await settled(pool, IVAN)
    assert row["outcome"] == "sticky"


@pytest.mark.parametrize(("agent2_is", "reason"), [("paused", "paused"), ("logged out", "offline")])
async def test_d_agent2_paused_or_logged_out_is_never_rung(
    asterisk: LocalAsterisk, pool: asyncpg.Pool, phone_logs: Path, agent2_is: str, reason: str
) -> None:
    """Logged out, the phone still reachable: no announcement, no ring. (QUEUE_MEMBER(support,
    paused,PJSIP/agent2) says 0 for a stranger as for a free member.)"""
    if agent2_is == "paused":
        await asyncio.to_thread(asterisk.cli, "queue pause member PJSIP/agent2 queue support")
    else:
        await asyncio.to_thread(asterisk.log_out_agent, "agent2")
    with AgentPhones(asterisk, phone_logs, {"agent1": "uas_answer.xml"}) as phones:
        result = await call(asterisk, phone_logs, caller_id=IVAN, hold_ms=1000)
        assert_calls_succeeded(result)
    assert phones.rung()["agent2"] == 0
    assert phones.rung()["agent1"] == 1
    row = await settled(pool, IVAN)
    assert (row["route"], row["outcome"], row["outcome_reason"]) == ("sticky", "queue", reason)


async def test_d_agent2_back_in_the_queue_is_rung_again(
    asterisk: LocalAsterisk, pool: asyncpg.Pool, phone_logs: Path
) -> None:
    await asyncio.to_thread(asterisk.log_out_agent, "agent2")
    await asyncio.to_thread(asterisk.log_in_agents, "agent2")
    with AgentPhones(asterisk, phone_logs, {"agent2": "uas_answer.xml"}) as phones:
        result = await call(asterisk, phone_logs, caller_id=IVAN, hold_ms=1000)
        assert_calls_succeeded(result)
    assert phones.rung() == {"agent1": 0, "agent2": 1, "agent3": 0, "agent4": 0}
    assert (await settled(pool, IVAN))["outcome"] == "sticky"


async def test_d_with_the_last_agent_paused_the_ticket_owner_is_rung_next(
    asterisk: LocalAsterisk, pool: asyncpg.Pool, phone_logs: Path
) -> None:
    """Tatiana spoke with agent1 50 minutes ago; her ticket belongs to agent3. With the owner
    as the next candidate, agent1 paused means agent3 (claimed, then rung), not the queue."""
    tatiana = "79123456711"
    await set_setting(
        pool, scope=Scope.GLOBAL, scope_value=None, key="target_precedence",
        value="owner_after_last_agent", actor="e2e",
    )  # fmt: skip
    await asyncio.to_thread(asterisk.cli, "queue pause member PJSIP/agent1 queue support")
    with AgentPhones(asterisk, phone_logs, {"agent3": "uas_answer.xml"}) as phones:
        result = await call(asterisk, phone_logs, caller_id=tatiana, hold_ms=1000)
        assert_calls_succeeded(result)
    assert phones.rung() == {"agent1": 0, "agent2": 0, "agent3": 1, "agent4": 0}
    row = await settled(pool, tatiana)
    assert (row["route"], row["outcome"]) == ("sticky", "sticky")
    [leg] = await legs(pool, row["id"])
    assert (leg["agent"], leg["answered_at"] is not None) == ("agent3", True)
    claims = await pool.fetch(
        "SELECT a.name, c.outcome FROM sticky_claims c JOIN agents a ON a.id = c.agent_id"
        " WHERE c.call_id = $1 ORDER BY c.claimed_at",
        row["call_id"],
    )
    # agent1 was let go as soon as it was passed over, agent3 held until the answer.
    assert [(c["name"], c["outcome"]) for c in claims] == [
        ("agent1", "paused"), ("agent3", "answered")
    ]  # fmt: skip


async def test_d_agent2_still_in_wrap_up_after_a_call_is_not_rung(
    asterisk: LocalAsterisk, pool: asyncpg.Pool, phone_logs: Path
) -> None:
    """agent2 has just finished a queue call (Sergey); with 60 s of wrap-up, Ivan's callback a
    moment later does not ring agent2 first: the queue, reason wrap_up."""
    await set_setting(
        pool, scope=Scope.QUEUE, scope_value="support", key="wrap_up_seconds", value=60,
        actor="e2e",
    )  # fmt: skip
    for agent in ("agent1", "agent3", "agent4"):
        await asyncio.to_thread(asterisk.cli, f"queue pause member PJSIP/{agent} queue support")
    first_logs = phone_logs / "first"
    with AgentPhones(asterisk, first_logs, {"agent2": "uas_answer.xml"}):
        assert_calls_succeeded(await call(asterisk, first_logs, caller_id=SERGEY, hold_ms=1000))
    await settled(pool, SERGEY)
    for agent in ("agent1", "agent3", "agent4"):
        await asyncio.to_thread(asterisk.cli, f"queue unpause member PJSIP/{agent} queue support")
    callback_logs = phone_logs / "callback"
    with AgentPhones(asterisk, callback_logs, {"agent1": "uas_answer.xml"}) as phones:
        assert_calls_succeeded(await call(asterisk, callback_logs, caller_id=IVAN, hold_ms=1000))
    # The queue rings everyone at once (Asterisk's own wrapuptime is 0 in the sandbox); the
    # router did not ring agent2 alone first.
    assert phones.rung() == {"agent1": 1, "agent2": 1, "agent3": 1, "agent4": 1}
    row = await settled(pool, IVAN)
    assert (row["route"], row["outcome"], row["outcome_reason"]) == ("sticky", "queue", "wrap_up")


async def test_d_agent2_whose_device_asterisk_cannot_reach_is_passed_over_at_once(
    asterisk: LocalAsterisk, pool: asyncpg.Pool, phone_logs: Path
) -> None:
    """agent2 is logged in, but on a device Asterisk cannot reach (an endpoint it does not
    know: DEVICE_STATE says INVALID, as for an endpoint without a contact): no announcement, no
    ring, the queue at once, reason unreachable."""
    await pool.execute("UPDATE agents SET endpoint = 'PJSIP/agent9' WHERE name = 'agent2'")
    await asyncio.to_thread(asterisk.cli, "queue add member PJSIP/agent9 to support")
    try:
        with AgentPhones(asterisk, phone_logs, {"agent1": "uas_answer.xml"}) as phones:
            result = await call(asterisk, phone_logs, caller_id=IVAN, hold_ms=1000)
            assert_calls_succeeded(result)
    finally:
        await asyncio.to_thread(asterisk.cli, "queue remove member PJSIP/agent9 from support")
    assert phones.rung()["agent1"] == 1
    row = await settled(pool, IVAN)
    assert (row["route"], row["outcome"], row["outcome_reason"]) == (
        "sticky", "queue", "unreachable"
    )  # fmt: skip
    queue_rang = phones.requests("agent1")[0].at.timestamp()
    assert queue_rang - row["started_at"].timestamp() < 3  # no ring timeout was paid


async def test_e_no_answer_reaches_the_queue_after_the_ring_timeout_not_before(
    asterisk: LocalAsterisk, pool: asyncpg.Pool, phone_logs: Path
) -> None:
    ring_timeout = 4
    await set_setting(
        pool, scope=Scope.GLOBAL, scope_value=None, key="ring_timeout_seconds",
        value=ring_timeout, actor="e2e",
    )  # fmt: skip
    scenarios = {"agent1": "uas_answer.xml", "agent2": "uas_noanswer.xml"}
    with AgentPhones(asterisk, phone_logs, scenarios, ring_ms={"agent1": 300}) as phones:
        # The announcement answers the caller: the call must last past the ring timeout.
        result = await call(
            asterisk, phone_logs, caller_id=IVAN, hold_ms=ring_timeout * 1000 + 2000
        )
        assert_calls_succeeded(result)
    first_ring = phones.requests("agent2")[0].at
    cancelled = phones.requests("agent2", "CANCEL")[0].at
    queue_rang = phones.requests("agent1")[0].at
    assert ring_timeout - 0.3 <= (cancelled - first_ring).total_seconds() <= ring_timeout + 1
    assert ring_timeout - 0.3 <= (queue_rang - first_ring).total_seconds() <= ring_timeout + 2
    row = await settled(pool, IVAN)
    assert (row["outcome"], row["outcome_reason"]) == ("queue", "no_answer")
    agent2_leg = (await legs(pool, row["id"]))[0]
    assert (agent2_leg["agent"], agent2_leg["answered_at"]) == ("agent2", None)
    # sticky-ring writes its queue_log line for an answered leg only: the router saw this one.
    assert await sticky_lines(asterisk, row["call_id"]) == []


@pytest.mark.parametrize("scenario", ["uas_busy.xml", "uas_reject.xml"])
async def test_f_agent2_rejecting_sends_the_call_to_the_queue(
    asterisk: LocalAsterisk, pool: asyncpg.Pool, phone_logs: Path, scenario: str
) -> None:
    scenarios = {"agent1": "uas_answer.xml", "agent2": scenario}
    with AgentPhones(asterisk, phone_logs, scenarios) as phones:
        result = await call(asterisk, phone_logs, caller_id=IVAN, hold_ms=1000)
        assert_calls_succeeded(result)
    assert phones.rung()["agent2"] >= 1
    assert phones.rung()["agent1"] == 1
    row = await settled(pool, IVAN)
    assert (row["outcome"], row["outcome_reason"]) == ("queue", "rejected")


async def test_g_callback_after_the_window_goes_to_the_queue(
    asterisk: LocalAsterisk, pool: asyncpg.Pool, phone_logs: Path
) -> None:
    with AgentPhones(asterisk, phone_logs, {"agent1": "uas_answer.xml"}) as phones:
        result = await call(asterisk, phone_logs, caller_id=SERGEY, hold_ms=1000)
        assert_calls_succeeded(result)
    assert phones.rung()["agent1"] == 1
    row = await settled(pool, SERGEY)
    assert (row["route"], row["route_reason"]) == ("queue", "window_expired")


@pytest.mark.parametrize("announce", [True, False], ids=["bye-after-announcement", "cancel"])
async def test_h_caller_hanging_up_while_agent2_rings_cancels_the_leg(
    asterisk: LocalAsterisk, pool: asyncpg.Pool, phone_logs: Path, announce: bool
) -> None:
    # With the announcement the caller is answered and hangs up with BYE; without it the caller
    # is still ringing and gives up with CANCEL.
    await set_setting(
        pool, scope=Scope.GLOBAL, scope_value=None, key="announce", value=announce, actor="e2e"
    )
    scenario = "uac.xml" if announce else "uac_cancel.xml"
    with AgentPhones(asterisk, phone_logs, {"agent2": "uas_noanswer.xml"}) as phones:
        result = await call(asterisk, phone_logs, caller_id=IVAN, hold_ms=1500, scenario=scenario)
        assert_calls_succeeded(result)
        await asyncio.sleep(0.5)  # the CANCEL to agent2 follows the caller's
    assert len(phones.requests("agent2", "CANCEL")) == 1
    assert phones.rung() == {"agent1": 0, "agent2": 1, "agent3": 0, "agent4": 0}
    row = await settled(pool, IVAN)
    assert (row["outcome"], row["outcome_reason"], row["hangup_side"]) == (
        "abandoned",
        "caller_abandoned",
        "caller",
    )
    [leg] = await legs(pool, row["id"])
    assert leg["answered_at"] is None
    assert leg["ended_at"] is not None


async def test_i_with_the_router_stopped_the_call_still_reaches_the_queue(
    asterisk: LocalAsterisk, pool: asyncpg.Pool, phone_logs: Path, router: Router
) -> None:
    await router.stop()
    try:
        with AgentPhones(asterisk, phone_logs, {"agent1": "uas_answer.xml"}) as phones:
            result = await call(asterisk, phone_logs, caller_id=IVAN, hold_ms=1000)
            assert_calls_succeeded(result)
        assert phones.rung()["agent1"] == 1
        assert phones.rung()["agent2"] <= 1  # the queue may ring everyone; no router attempt
        count = await pool.fetchval("SELECT count(*) FROM interactions WHERE call_id !~ '^demo'")
        assert count == 0  # nobody decided anything
    finally:
        await router.start()
        await router.wait_connected(10)


async def test_j_anonymous_caller_goes_to_the_queue(
    asterisk: LocalAsterisk, pool: asyncpg.Pool, phone_logs: Path
) -> None:
    with AgentPhones(asterisk, phone_logs, {"agent1": "uas_answer.xml"}) as phones:
        result = await call(asterisk, phone_logs, caller_id="anonymous", hold_ms=1000)
        assert_calls_succeeded(result)
    assert phones.rung()["agent1"] == 1
    row = await pool.fetchrow(
        "SELECT * FROM interactions WHERE caller_number IS NULL AND call_id !~ '^demo'"
    )
    assert row is not None
    assert (row["route"], row["route_reason"]) == ("queue", "no_caller_key")


async def test_k_a_caller_transferred_to_the_specialist_comes_back_to_the_specialist(
    asterisk: LocalAsterisk, pool: asyncpg.Pool, phone_logs: Path
) -> None:
    # First call: no history, the queue; only agent1 is free there, answers, and blind-transfers
    # the caller to specialist agent3 (SIP REFER), who answers.
    for agent in ("agent2", "agent3", "agent4"):
        await asyncio.to_thread(asterisk.cli, f"queue pause member PJSIP/{agent} queue support")
    refer_to = ["-key", "refer_to", f"sip:agent3@127.0.0.1:{asterisk.sip_port}"]
    scenarios = {"agent1": "uas_blind_transfer.xml", "agent3": "uas_answer.xml"}
    first_logs = phone_logs / "first"
    with AgentPhones(asterisk, first_logs, scenarios, extra_args={"agent1": refer_to}) as phones:
        result = await call(asterisk, first_logs, caller_id=UNKNOWN, hold_ms=5000)
        assert_calls_succeeded(result)
    assert phones.rung() == {"agent1": 1, "agent2": 0, "agent3": 1, "agent4": 0}
    first = await settled(pool, UNKNOWN)
    answered = {leg["agent"]: leg for leg in await legs(pool, first["id"])}
    assert answered["agent3"]["transferred_from_leg_id"] == answered["agent1"]["leg_id"]

    # The callback: the router rings agent3 first, and only agent3.
    for agent in ("agent2", "agent3", "agent4"):
        await asyncio.to_thread(asterisk.cli, f"queue unpause member PJSIP/{agent} queue support")
    callback_logs = phone_logs / "callback"
    with AgentPhones(asterisk, callback_logs, {"agent3": "uas_answer.xml"}) as phones:
        result = await call(asterisk, callback_logs, caller_id=UNKNOWN, hold_ms=1500)
        assert_calls_succeeded(result)
    assert phones.rung() == {"agent1": 0, "agent2": 0, "agent3": 1, "agent4": 0}
    callback = await pool.fetchrow(
        "SELECT * FROM interactions WHERE caller_number = $1 AND call_id <> $2",
        "+" + UNKNOWN,
        first["call_id"],
    )
    assert callback is not None
    assert (callback["route"], callback["route_reason"], callback["outcome"]) == (
        "sticky",
        "escalated_to_specialist",
        "sticky",
    )


async def test_an_account_keyed_in_the_ivr_finds_the_customer_behind_an_unknown_number(
    asterisk: LocalAsterisk, pool: asyncpg.Pool, phone_logs: Path
) -> None:
    """The caller rings from a number we do not know, keys Ivan's account number into the IVR
    example (sticky-ivr, DTMF by SIP INFO) and reaches agent2, who spoke with Ivan 42 minutes
    ago."""
    caller = SippPhone.caller(
        "uac_ivr.xml", asterisk, phone_logs, dialled="ivr", caller_id=UNKNOWN, hold_ms=1500,
        timeout_s=60, name="caller",
    )  # fmt: skip
    caller.arguments += ["-key", "dtmf", "100201#"]
    with AgentPhones(asterisk, phone_logs, {"agent2": "uas_answer.xml"}) as phones:
        assert_calls_succeeded(await asyncio.to_thread(caller.run))
    assert phones.rung() == {"agent1": 0, "agent2": 1, "agent3": 0, "agent4": 0}
    row = await settled(pool, UNKNOWN)
    ivan = await pool.fetchval("SELECT id FROM customers WHERE account_number = '100201'")
    assert (row["key_kind"], row["key_value"], row["customer_id"]) == ("account", "100201", ivan)
    assert (row["route"], row["outcome"]) == ("sticky", "sticky")


async def test_a_blocked_caller_reaches_the_supervisors_never_an_agent(
    asterisk: LocalAsterisk, pool: asyncpg.Pool, phone_logs: Path
) -> None:
    maria = "79123456709"  # under an approved block to the `supervisors` queue (agent4)
    with AgentPhones(asterisk, phone_logs, {"agent4": "uas_answer.xml"}) as phones:
        result = await call(asterisk, phone_logs, caller_id=maria, hold_ms=1500)
        assert_calls_succeeded(result)
    assert phones.rung() == {"agent1": 0, "agent2": 0, "agent3": 0, "agent4": 1}
    row = await settled(pool, maria)
    assert (row["route"], row["outcome"]) == ("blocked", "blocked")


async def test_l_two_callbacks_at_once_ring_agent2_for_at_most_one(
    asterisk: LocalAsterisk, pool: asyncpg.Pool, phone_logs: Path
) -> None:
    scenarios = {"agent1": "uas_answer.xml", "agent2": "uas_answer.xml"}
    with AgentPhones(asterisk, phone_logs, scenarios, ring_ms={"agent2": 1000}) as phones:
        result = await call(asterisk, phone_logs, caller_id=IVAN, hold_ms=2500, calls=2)
        assert_calls_succeeded(result)
    assert phones.rung()["agent2"] == 1
    rows = await pool.fetch(
        "SELECT i.*, a.name AS target FROM interactions i LEFT JOIN agents a"
        " ON a.id = i.target_agent_id WHERE caller_number = $1 AND call_id !~ '^demo'",
        "+" + IVAN,
    )
    assert len(rows) == 2
    assert sorted(row["outcome"] for row in rows) == ["queue", "sticky"]


async def test_a_connected_call_survives_the_router_restarting(
    asterisk: LocalAsterisk, pool: asyncpg.Pool, phone_logs: Path, router: Router
) -> None:
    with AgentPhones(asterisk, phone_logs, {"agent2": "uas_answer.xml"}) as phones:
        caller = asyncio.create_task(call(asterisk, phone_logs, caller_id=IVAN, hold_ms=5000))
        await wait_until_bridged(pool, IVAN)
        await router.stop()
        await asyncio.sleep(0.5)
        await router.start()
        await router.wait_connected(10)
        assert_calls_succeeded(await caller)
        await asyncio.sleep(0.5)
        # The caller's BYE ended agent2's side too: the call was the dialplan's all along.
        assert len(phones.requests("agent2", "BYE")) == 1
    row = await settled(pool, IVAN)
    assert (row["outcome"], row["hangup_side"]) == ("sticky", "caller")


async def wait_until_bridged(pool: asyncpg.Pool, number: str) -> None:
    for _ in range(100):
        outcome = await pool.fetchval(
            "SELECT outcome FROM interactions WHERE caller_number = $1 AND call_id !~ '^demo'",
            "+" + number,
        )
        if outcome == "sticky":
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"the call from {number} was never bridged")
