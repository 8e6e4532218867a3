"""AGI mode end to end: Asterisk 22 runs dialplan/sticky-router-agi.conf, SIPp places the calls.

The caller dials `agi` (the sandbox sends it to sticky-agi-inbound). The ARI router is stopped
for these tests, AMI learning with it: everything recorded here came through the FastAGI hooks
(lookup, result, the queue's answered hook, the hangup handlers).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import pytest

from devkit.sandbox.asterisk import LocalAsterisk
from sticky_router.process.agi_process import AgiProcess
from sticky_router.routing_core.settings import Scope
from sticky_router.routing_core.store.settings_store import set_setting
from testkit.sip_log import received
from testkit.sipp import assert_calls_succeeded
from tests.e2e.phones import AgentPhones, call, requests_received
from tests.e2e.records import agent_channel, legs, settled, wait_for_device

IVAN = "79123456701"  # last spoke with agent2 42 minutes ago
SERGEY = "79123456703"  # spoke with agent2 3 hours ago: outside the window
UNKNOWN = "79990000002"
AGI = "agi"  # what the caller dials


async def test_a_callback_inside_the_window_reaches_the_last_agent(
    agi: AgiProcess, asterisk: LocalAsterisk, pool: asyncpg.Pool, phone_logs: Path
) -> None:
    await set_setting(
        pool, scope=Scope.GLOBAL, scope_value=None, key="callerid_name_prefix", value=True,
        actor="e2e",
    )  # fmt: skip
    with AgentPhones(asterisk, phone_logs, {"agent2": "uas_answer.xml"}) as phones:
        result = await call(asterisk, phone_logs, caller_id=IVAN, dialled=AGI, hold_ms=2000)
        assert_calls_succeeded(result)
    assert phones.rung() == {"agent1": 0, "agent2": 1, "agent3": 0, "agent4": 0}
    [invite] = received(phone_logs / "agent2.messages.log")
    assert invite.from_display_name == "[T-1001] Ivan Petrov"  # the agent's phone, not the caller
    row = await settled(pool, IVAN)
    assert (row["route"], row["route_reason"], row["outcome"]) == ("sticky", "last_agent", "sticky")
    assert row["hangup_side"] == "caller"
    [leg] = await legs(pool, row["id"])
    assert leg["agent"] == "agent2"
    assert leg["outcome"] == "ANSWER"
    # The leg is known by the agent channel's own id (reported by Dial()'s pre-dial hook).
    assert leg["leg_id"] != f"{row['call_id']}-agent2"
    assert leg["leg_id"].replace(".", "").isdigit()
    talk = (leg["ended_at"] - leg["answered_at"]).total_seconds()
    assert 1 <= talk <= 4  # the caller held 2 s after the answer; Asterisk reports whole seconds
    claims = await pool.fetchval("SELECT count(*) FROM sticky_claims WHERE released_at IS NULL")
    assert claims == 0


async def test_b_busy_agent_means_the_queue_at_once_and_the_queue_answer_is_recorded(
    agi: AgiProcess, asterisk: LocalAsterisk, pool: asyncpg.Pool, phone_logs: Path
) -> None:
    scenarios = {"agent1": "uas_answer.xml", "agent2": "uas_answer.xml"}
    with AgentPhones(asterisk, phone_logs, scenarios) as phones:
        await asyncio.to_thread(asterisk.cli, "channel originate PJSIP/agent2 application Wait 30")
        await wait_for_device(asterisk, "PJSIP/agent2", "INUSE", "BUSY")
        result = await call(asterisk, phone_logs, caller_id=IVAN, dialled=AGI, hold_ms=1500)
        assert_calls_succeeded(result)
    assert phones.rung()["agent2"] == 1  # only the other call
    assert phones.rung()["agent1"] == 1  # the queue
    row = await settled(pool, IVAN)
    assert (row["route"], row["outcome"], row["outcome_reason"]) == ("sticky", "queue", "busy")
    [leg] = await legs(pool, row["id"])  # no leg for agent2: never rung
    assert leg["agent"] == "agent1"
    assert leg["answered_at"] is not None  # the queue's answered hook
    assert leg["ended_at"] is not None  # the agent's hangup handler
    assert leg["hangup_side"] == "caller"


@pytest.mark.parametrize(("agent2_is", "reason"), [("paused", "paused"), ("logged out", "offline")])
async def test_b_paused_or_logged_out_agent_means_the_queue_at_once(
    agi: AgiProcess,
    asterisk: LocalAsterisk,
    pool: asyncpg.Pool,
    phone_logs: Path,
    agent2_is: str,
    reason: str,
) -> None:
    """Logged out: QUEUE_MEMBER(support,paused,PJSIP/agent2) says 0 for a stranger as for a
    free member; only the member list tells."""
    if agent2_is == "paused":
        await asyncio.to_thread(asterisk.cli, "queue pause member PJSIP/agent2 queue support")
    else:
        await asyncio.to_thread(asterisk.log_out_agent, "agent2")
    with AgentPhones(asterisk, phone_logs, {"agent1": "uas_answer.xml"}) as phones:
        result = await call(asterisk, phone_logs, caller_id=IVAN, dialled=AGI, hold_ms=1000)
        assert_calls_succeeded(result)
    assert phones.rung()["agent2"] == 0
    assert phones.rung()["agent1"] == 1
    row = await settled(pool, IVAN)
    assert (row["outcome"], row["outcome_reason"]) == ("queue", reason)


async def test_b_with_a_busy_wait_the_agent_is_rung_once_free(
    agi: AgiProcess, asterisk: LocalAsterisk, pool: asyncpg.Pool, phone_logs: Path
) -> None:
    await set_setting(
        pool, scope=Scope.GLOBAL, scope_value=None, key="busy_wait_seconds", value=12, actor="e2e"
    )
    with AgentPhones(asterisk, phone_logs, {"agent2": "uas_answer.xml"}) as phones:
        await asyncio.to_thread(asterisk.cli, "channel originate PJSIP/agent2 application Wait 60")
        await wait_for_device(asterisk, "PJSIP/agent2", "INUSE", "BUSY")
        caller = asyncio.create_task(
            call(asterisk, phone_logs, caller_id=IVAN, dialled=AGI, hold_ms=1500)
        )
        await asyncio.sleep(2.5)  # the dialplan is waiting for agent2 now
        assert phones.rung()["agent2"] == 1
        other = await agent_channel(asterisk, "agent2")
        await asyncio.to_thread(asterisk.cli, f"channel request hangup {other}")
        assert_calls_succeeded(await caller)
    other_call_ended = phones.requests("agent2", "BYE")[0].at
    rung_again = phones.requests("agent2")[1].at
    assert 0 <= (rung_again - other_call_ended).total_seconds() < 1.0  # checked twice a second
    assert phones.rung() == {"agent1": 0, "agent2": 2, "agent3": 0, "agent4": 0}
    row = await settled(pool, IVAN)
    assert row["outcome"] == "sticky"


async def test_c_no_answer_goes_to_the_queue_after_the_ring_timeout(
    agi: AgiProcess, asterisk: LocalAsterisk, pool: asyncpg.Pool, phone_logs: Path
) -> None:
    ring_timeout = 4
    await set_setting(
        pool, scope=Scope.GLOBAL, scope_value=None, key="ring_timeout_seconds",
        value=ring_timeout, actor="e2e",
    )  # fmt: skip
    scenarios = {"agent1": "uas_answer.xml", "agent2": "uas_noanswer.xml"}
    with AgentPhones(asterisk, phone_logs, scenarios) as phones:
        result = await call(
            asterisk, phone_logs, caller_id=IVAN, dialled=AGI, hold_ms=ring_timeout * 1000 + 2000
        )
        assert_calls_succeeded(result)
    first_ring = phones.requests("agent2")[0].at
    cancelled = phones.requests("agent2", "CANCEL")[0].at
    queue_rang = phones.requests("agent1")[0].at
    assert ring_timeout - 0.3 <= (cancelled - first_ring).total_seconds() <= ring_timeout + 1
    assert ring_timeout - 0.3 <= (queue_rang - first_ring).total_seconds() <= ring_timeout + 2
    row = await settled(pool, IVAN)
    assert (row["outcome"], row["outcome_reason"]) == ("queue", "no_answer")
    by_agent = {leg["agent"]: leg for leg in await legs(pool, row["id"])}
    assert by_agent["agent2"]["answered_at"] is None
    assert by_agent["agent2"]["outcome"] == "NOANSWER"
    assert by_agent["agent1"]["answered_at"] is not None


async def test_d_callback_after_the_window_goes_to_the_queue(
    agi: AgiProcess, asterisk: LocalAsterisk, pool: asyncpg.Pool, phone_logs: Path
) -> None:
    with AgentPhones(asterisk, phone_logs, {"agent1": "uas_answer.xml"}) as phones:
        result = await call(asterisk, phone_logs, caller_id=SERGEY, dialled=AGI, hold_ms=1000)
        assert_calls_succeeded(result)
    assert phones.rung()["agent1"] == 1
    row = await settled(pool, SERGEY)
    assert (row["route"], row["route_reason"], row["outcome"]) == (
        "queue",
        "window_expired",
        "queue",
    )


async def test_e_whoever_answered_in_the_queue_gets_the_next_callback(
    agi: AgiProcess, asterisk: LocalAsterisk, pool: asyncpg.Pool, phone_logs: Path
) -> None:
    """Learning without AMI: the queue's answered hook and the hangup handlers alone make
    agent3 the last agent of a caller the router had never seen."""
    await set_setting(
        pool, scope=Scope.GLOBAL, scope_value=None, key="min_talk_seconds", value=1, actor="e2e"
    )
    with AgentPhones(asterisk, phone_logs, {"agent3": "uas_answer.xml"}) as phones:
        first = await call(asterisk, phone_logs, caller_id=UNKNOWN, dialled=AGI, hold_ms=2500)
        assert_calls_succeeded(first)
    row = await settled(pool, UNKNOWN)
    assert (row["route"], row["route_reason"]) == ("queue", "no_history")
    answered = [leg["agent"] for leg in await legs(pool, row["id"]) if leg["answered_at"]]
    assert answered == ["agent3"]
    with AgentPhones(asterisk, phone_logs / "second", {"agent3": "uas_answer.xml"}) as phones:
        second = await call(asterisk, phone_logs, caller_id=UNKNOWN, dialled=AGI, hold_ms=1000)
        assert_calls_succeeded(second)
    assert phones.rung() == {"agent1": 0, "agent2": 0, "agent3": 1, "agent4": 0}
    rows = await pool.fetch(
        "SELECT route, route_reason FROM interactions WHERE caller_number = $1 ORDER BY started_at",
        "+" + UNKNOWN,
    )
    assert [tuple(r) for r in rows][-1] == ("sticky", "last_agent")


async def test_f_caller_hanging_up_while_the_agent_rings_is_recorded_as_an_abandon(
    agi: AgiProcess, asterisk: LocalAsterisk, pool: asyncpg.Pool, phone_logs: Path
) -> None:
    await set_setting(
        pool, scope=Scope.GLOBAL, scope_value=None, key="announce", value=False, actor="e2e"
    )
    with AgentPhones(asterisk, phone_logs, {"agent2": "uas_noanswer.xml"}) as phones:
        result = await call(
            asterisk,
            phone_logs,
            caller_id=IVAN,
            dialled=AGI,
            hold_ms=1500,
            scenario="uac_cancel.xml",
        )
        assert_calls_succeeded(result)
        await asyncio.sleep(0.5)  # the CANCEL to agent2 follows the caller's
    assert len(phones.requests("agent2", "CANCEL")) == 1
    row = await settled(pool, IVAN)
    assert (row["outcome"], row["outcome_reason"], row["hangup_side"]) == (
        "abandoned",
        "caller_abandoned",
        "caller",
    )
    [leg] = await legs(pool, row["id"])
    assert (leg["agent"], leg["answered_at"], leg["outcome"]) == ("agent2", None, "CANCEL")
    claims = await pool.fetchval("SELECT count(*) FROM sticky_claims WHERE released_at IS NULL")
    assert claims == 0


async def test_a_blocked_caller_reaches_the_supervisors_never_an_agent(
    agi: AgiProcess, asterisk: LocalAsterisk, pool: asyncpg.Pool, phone_logs: Path
) -> None:
    maria = "79123456709"  # under an approved block to the `supervisors` queue (agent4)
    with AgentPhones(asterisk, phone_logs, {"agent4": "uas_answer.xml"}) as phones:
        result = await call(asterisk, phone_logs, caller_id=maria, dialled=AGI, hold_ms=1500)
        assert_calls_succeeded(result)
    assert phones.rung() == {"agent1": 0, "agent2": 0, "agent3": 0, "agent4": 1}
    row = await settled(pool, maria)
    assert (row["route"], row["outcome"]) == ("blocked", "blocked")


async def test_g_with_the_agi_server_down_the_call_still_reaches_the_queue(
    agi: AgiProcess, asterisk: LocalAsterisk, pool: asyncpg.Pool, phone_logs: Path
) -> None:
    await agi.stop()  # nothing listens on the AGI port now: AGI() fails at once
    with AgentPhones(asterisk, phone_logs, {"agent1": "uas_answer.xml"}) as phones:
        result = await call(asterisk, phone_logs, caller_id=IVAN, dialled=AGI, hold_ms=1000)
        assert_calls_succeeded(result)
    assert phones.rung()["agent1"] == 1
    assert phones.rung()["agent2"] <= 1  # the queue may ring everyone; no sticky attempt
    count = await pool.fetchval("SELECT count(*) FROM interactions WHERE call_id !~ '^demo'")
    assert count == 0


async def test_h_a_database_that_stops_answering_means_the_queue(
    agi: AgiProcess, asterisk: LocalAsterisk, pool: asyncpg.Pool, phone_logs: Path
) -> None:
    """The lookup answers `queue` after the 300 ms budget and the dialplan carries on."""
    async with pool.acquire() as locker, locker.transaction():
        await locker.execute("LOCK TABLE interactions IN ACCESS EXCLUSIVE MODE")
        with AgentPhones(asterisk, phone_logs, {"agent1": "uas_answer.xml"}) as phones:
            result = await call(asterisk, phone_logs, caller_id=IVAN, dialled=AGI, hold_ms=1000)
            assert_calls_succeeded(result)
    # The queue rings every free agent at once; a sticky attempt would have rung agent2 alone.
    assert phones.rung() == {"agent1": 1, "agent2": 1, "agent3": 1, "agent4": 1}
    invite_sent = requests_received(phone_logs / "caller.messages.log", "sent")[0].at
    first_ring = min(phones.requests(agent)[0].at for agent in ("agent1", "agent2"))
    assert (first_ring - invite_sent).total_seconds() < 1.5  # budget 0.3 s, then Queue()
