"""Sticky routing on a FreePBX-style PBX: agents are Local-channel queue members whose state is
their extension's hint, and agent2 answers on either of two phones (a desk phone and a softphone
behind extension 102). Real Asterisk 22 (the sandbox's freepbx flavour), SIPp phones, the router
in ARI mode and the FastAGI server, PostgreSQL.

Before agents could be known by member interface, hint and phones, agent2 logged in as
Local/102@from-queue/n was "offline" to the router: every callback went to the queue."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

import asyncpg
import pytest

from devkit.sandbox.asterisk import LocalAsterisk
from devkit.sandbox.asterisk_config import FREEPBX_AGI_DID, PHONES
from devkit.sandbox.stack import Sandbox, identify_agents
from sticky_router.ami.connection import AmiSettings
from sticky_router.process.agi_process import AgiProcess
from sticky_router.process.router import Router
from sticky_router.routing_core.settings import Scope
from sticky_router.routing_core.store.settings_store import set_setting
from testkit.ami_client import AmiClient
from testkit.sipp import assert_calls_succeeded
from tests.e2e.phones import AgentPhones, call, requests_received
from tests.e2e.records import agent_channel, legs, settled, wait_for_device

IVAN = "79123456701"  # the demo: last helped by agent2 42 minutes ago
SERGEY = "79123456703"  # the demo: last helped by agent2 3 hours ago
STRANGER = "79990004501"  # no history
NOBODY_RANG = dict.fromkeys(PHONES, 0)


def rang(**phones: int) -> dict[str, int]:
    return {**NOBODY_RANG, **phones}


async def setting(pool: asyncpg.Pool, key: str, value: int) -> None:
    """A routing setting for the whole line, for this test (`fresh` resets them)."""
    await set_setting(
        pool, scope=Scope.GLOBAL, scope_value=None, key=key, value=value, actor="flavours"
    )


async def busy_desk_phone(asterisk: LocalAsterisk) -> None:
    """agent2 on another call on the desk phone: extension 102's hint says INUSE."""
    await asyncio.to_thread(asterisk.cli, "channel originate PJSIP/agent2 application Wait 30")
    await wait_for_device(asterisk, "PJSIP/agent2", "INUSE", "BUSY")


async def assert_ivan_was_handed_to_agent3(pool: asyncpg.Pool, agents: AgentPhones) -> None:
    """Both of agent2's phones rang, agent3 took Ivan and talked with him to the end, and
    agent3's leg is a completed handover from agent2's ring (not a consultation)."""
    assert agents.rung() == rang(agent2=1, agent2soft=1, agent3=1)
    assert len(agents.requests("agent3", "BYE")) == 1
    row = await settled(pool, IVAN)
    assert (row["route"], row["outcome"]) == ("sticky", "sticky")
    await asyncio.sleep(1)  # the phones' own reports (AMI) arrive after the caller's end
    by_agent = {leg["agent"]: leg for leg in await legs(pool, row["id"])}
    assert set(by_agent) == {"agent2", "agent3"}
    assert by_agent["agent3"]["transferred_from_leg_id"] == by_agent["agent2"]["leg_id"]
    assert by_agent["agent3"]["answered_at"] is not None
    assert by_agent["agent3"]["consultation"] is False


async def test_a_callback_rings_both_phones_of_the_last_agent_and_either_may_answer(
    asterisk: LocalAsterisk, pool: asyncpg.Pool, phone_logs: Path
) -> None:
    phones = {"agent2soft": "uas_answer.xml"}  # the softphone answers; the desk phone only rings
    with AgentPhones(asterisk, phone_logs, phones, names=PHONES) as agents:
        assert_calls_succeeded(await call(asterisk, phone_logs, caller_id=IVAN))
    assert agents.rung() == rang(agent2=1, agent2soft=1)
    row = await settled(pool, IVAN)
    assert (row["route"], row["route_reason"], row["outcome"]) == ("sticky", "last_agent", "sticky")
    await asyncio.sleep(1)  # the phones' own reports (AMI) arrive after the caller's end
    [leg] = await legs(pool, row["id"])  # one ring of agent2, however many phones rang
    assert (leg["agent"], leg["outcome"]) == ("agent2", "ANSWER")
    assert leg["answered_at"] is not None


async def test_b_the_last_agent_busy_on_the_desk_phone_means_the_queue_not_the_softphone(
    asterisk: LocalAsterisk, pool: asyncpg.Pool, phone_logs: Path
) -> None:
    scenarios = {"agent1": "uas_answer.xml", "agent2": "uas_answer.xml"}
    with AgentPhones(asterisk, phone_logs, scenarios, names=PHONES) as agents:
        await busy_desk_phone(asterisk)
        assert_calls_succeeded(await call(asterisk, phone_logs, caller_id=IVAN, hold_ms=1000))
    # The desk phone rang once, for the other call; the queue knows 102 is busy too.
    assert agents.rung()["agent2"] == 1
    assert agents.rung()["agent2soft"] == 0
    assert agents.rung()["agent1"] == 1
    row = await settled(pool, IVAN)
    assert (row["route"], row["outcome"], row["outcome_reason"]) == ("sticky", "queue", "busy")


async def test_c_a_busy_wait_ends_as_soon_as_the_desk_phone_hangs_up(
    asterisk: LocalAsterisk, pool: asyncpg.Pool, phone_logs: Path
) -> None:
    """Woken by the device-state event of one of the phones behind the hint, not by the
    periodic re-read (every second)."""
    await setting(pool, "busy_wait_seconds", 12)
    with AgentPhones(asterisk, phone_logs, {"agent2": "uas_answer.xml"}, names=PHONES) as agents:
        await busy_desk_phone(asterisk)
        caller = asyncio.create_task(call(asterisk, phone_logs, caller_id=IVAN, hold_ms=1000))
        for _ in range(100):  # until the caller's INVITE is out
            if requests_received(phone_logs / "caller.messages.log", "sent"):
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(1.5)  # the router is waiting for agent2 now
        assert agents.rung() == rang(agent2=1)
        other_call = await agent_channel(asterisk, "agent2")
        await asyncio.to_thread(asterisk.cli, f"channel request hangup {other_call}")
        assert_calls_succeeded(await caller)
    other_call_ended = agents.requests("agent2", "BYE")[0].at
    rung_again = agents.requests("agent2")[1].at
    assert 0 <= (rung_again - other_call_ended).total_seconds() < 0.7
    assert agents.rung() == rang(agent2=2, agent2soft=1)
    row = await settled(pool, IVAN)
    assert row["outcome"] == "sticky"


@pytest.mark.parametrize(("agent2_is", "reason"), [("paused", "paused"), ("logged out", "offline")])
async def test_d_the_last_agent_paused_or_logged_out_is_never_rung(
    asterisk: LocalAsterisk, pool: asyncpg.Pool, phone_logs: Path, agent2_is: str, reason: str
) -> None:
    member = asterisk.member("agent2")
    if agent2_is == "paused":
        await asyncio.to_thread(asterisk.cli, f"queue pause member {member} queue {asterisk.queue}")
    else:
        await asyncio.to_thread(asterisk.log_out_agent, "agent2")
    with AgentPhones(asterisk, phone_logs, {"agent1": "uas_answer.xml"}, names=PHONES) as agents:
        assert_calls_succeeded(await call(asterisk, phone_logs, caller_id=IVAN, hold_ms=1000))
    assert agents.rung() == rang(agent1=1, agent3=1, agent4=1)  # the queue: ringall
    row = await settled(pool, IVAN)
    assert (row["route"], row["outcome"], row["outcome_reason"]) == ("sticky", "queue", reason)


async def test_d_neither_phone_answering_is_one_missed_ring_then_the_queue(
    asterisk: LocalAsterisk, pool: asyncpg.Pool, phone_logs: Path
) -> None:
    ring_timeout = 4
    await setting(pool, "ring_timeout_seconds", ring_timeout)
    with AgentPhones(asterisk, phone_logs, {"agent1": "uas_answer.xml"}, names=PHONES) as agents:
        assert_calls_succeeded(
            await call(asterisk, phone_logs, caller_id=IVAN, hold_ms=ring_timeout * 1000 + 2000)
        )
    # Both of agent2's phones rang for the sticky attempt, before the queue rang anyone. (Whether
    # the queue's ringall rings them again before the caller leaves is the queue's timing.)
    first_ring = agents.requests("agent2")[0].at
    queue_rang = agents.requests("agent1")[0].at
    assert agents.requests("agent2soft")[0].at < queue_rang
    assert ring_timeout - 0.3 <= (queue_rang - first_ring).total_seconds() <= ring_timeout + 2
    row = await settled(pool, IVAN)
    assert (row["outcome"], row["outcome_reason"]) == ("queue", "no_answer")
    await asyncio.sleep(1)  # the phones' own reports (AMI) arrive after the caller's end
    sticky_ring = (await legs(pool, row["id"]))[0]  # the first ring: the sticky attempt's
    assert (sticky_ring["agent"], sticky_ring["answered_at"]) == ("agent2", None)
    assert sticky_ring["outcome"] == "NOANSWER"


async def test_e_who_answered_a_queue_call_on_the_softphone_gets_the_callback(
    asterisk: LocalAsterisk, pool: asyncpg.Pool, phone_logs: Path
) -> None:
    # A 1 s test call counts as a conversation (the default wants 10 s).
    await setting(pool, "min_talk_seconds", 0)
    first, second = phone_logs / "first", phone_logs / "second"
    with AgentPhones(asterisk, first, {"agent2soft": "uas_answer.xml"}, names=PHONES):
        assert_calls_succeeded(await call(asterisk, first, caller_id=STRANGER, hold_ms=1000))
    queued = await settled(pool, STRANGER)
    assert queued["route"] == "queue"
    await asyncio.sleep(1)  # the phones' own reports (AMI) arrive after the caller's end
    answered = [leg for leg in await legs(pool, queued["id"]) if leg["answered_at"] is not None]
    assert [leg["agent"] for leg in answered] == ["agent2"]
    # The callback: both of agent2's phones ring, and nobody else's.
    with AgentPhones(asterisk, second, {"agent2": "uas_answer.xml"}, names=PHONES) as agents:
        assert_calls_succeeded(await call(asterisk, second, caller_id=STRANGER, hold_ms=1000))
    assert agents.rung() == rang(agent2=1, agent2soft=1)
    rows = await pool.fetch(
        "SELECT route, route_reason FROM interactions WHERE caller_number = $1"
        " ORDER BY started_at", "+" + STRANGER,
    )  # fmt: skip
    assert [r["route"] for r in rows] == ["queue", "sticky"]
    assert rows[1]["route_reason"] == "last_agent"


async def test_g_a_callback_blind_transferred_from_the_softphone_reaches_the_specialist(
    asterisk: LocalAsterisk, pool: asyncpg.Pool, phone_logs: Path
) -> None:
    """agent2 answers Ivan's callback on the softphone and sends REFER to agent3. Behind a /n
    Local member the transfer moves the member's second half, not the caller: what it dials
    now is agent3, a transfer target, not one more phone of agent2's."""
    await setting(pool, "min_talk_seconds", 1)
    refer_to = ["-key", "refer_to", f"sip:agent3@127.0.0.1:{asterisk.sip_port}"]
    scenarios = {"agent2soft": "uas_blind_transfer.xml", "agent3": "uas_answer.xml"}
    with AgentPhones(
        asterisk, phone_logs, scenarios, extra_args={"agent2soft": refer_to}, names=PHONES
    ) as agents:
        assert_calls_succeeded(await call(asterisk, phone_logs, caller_id=IVAN, hold_ms=6000))
        await asyncio.sleep(0.3)
    await assert_ivan_was_handed_to_agent3(pool, agents)


async def test_g_a_callback_handed_on_with_the_attended_transfer_key_reaches_the_specialist(
    asterisk: LocalAsterisk, pool: asyncpg.Pool, phone_logs: Path
) -> None:
    """agent2 answers on the softphone, keys *2 and 103 (features.conf's attended transfer),
    talks with agent3, then hangs up: Ivan talks with agent3 until Ivan hangs up."""
    await setting(pool, "min_talk_seconds", 1)
    keys = ["-key", "dtmf", "*2103", "-key", "then", "hangup"]
    scenarios = {"agent2soft": "uas_feature_transfer.xml", "agent3": "uas_answer.xml"}
    with AgentPhones(
        asterisk, phone_logs, scenarios, extra_args={"agent2soft": keys}, names=PHONES
    ) as agents:
        assert_calls_succeeded(await call(asterisk, phone_logs, caller_id=IVAN, hold_ms=11000))
        await asyncio.sleep(0.3)
    await assert_ivan_was_handed_to_agent3(pool, agents)


async def test_g_a_callback_handed_on_by_an_agent_panels_ami_atxfer_reaches_the_specialist(
    asterisk: LocalAsterisk, pool: asyncpg.Pool, phone_logs: Path
) -> None:
    """An agent panel transfers for agent2: AMI Atxfer on the softphone's channel to 103, then
    hangs the softphone up once agent3 has answered the consultation."""
    await setting(pool, "min_talk_seconds", 1)
    scenarios = {"agent2soft": "uas_answer.xml", "agent3": "uas_answer.xml"}
    panel = await AmiClient.connect(asterisk)
    try:
        with AgentPhones(asterisk, phone_logs, scenarios, names=PHONES) as agents:
            ivan = asyncio.create_task(call(asterisk, phone_logs, caller_id=IVAN, hold_ms=10000))
            await panel.event("DialEnd", DestChannel="PJSIP/agent2soft-", DialStatus="ANSWER")
            softphone = await agent_channel(asterisk, "agent2soft")
            reply = await panel.action(
                "Atxfer", Channel=softphone, Exten="103", Context="sticky-sandbox-agents"
            )
            assert reply["Response"] == "Success", reply
            await panel.event("DialEnd", DestChannel="PJSIP/agent3-", DialStatus="ANSWER")
            await panel.action("Hangup", Channel=softphone)  # the transfer completes
            assert_calls_succeeded(await ivan)
            await asyncio.sleep(0.3)
    finally:
        await panel.close()
    await assert_ivan_was_handed_to_agent3(pool, agents)


@pytest.mark.usefixtures("agi")
async def test_f_in_fastagi_mode_the_callback_rings_both_phones_and_a_busy_agent_is_skipped(
    asterisk: LocalAsterisk, pool: asyncpg.Pool, phone_logs: Path, agi: AgiProcess
) -> None:
    """The same judgement through AGI: EXTENSION_STATE of the hint, the Local member's pause
    and membership, and the Local channel dialled by the AGI-mode dialplan."""
    await identify_agents(pool, "freepbx")  # `agi` reloaded the demo agents
    await setting(pool, "window_minutes", 240)  # Sergey's last call, 3 hours ago, is inside
    free, busy = phone_logs / "free", phone_logs / "busy"
    with AgentPhones(asterisk, free, {"agent2": "uas_answer.xml"}, names=PHONES) as agents:
        assert_calls_succeeded(await call(asterisk, free, caller_id=IVAN, dialled=FREEPBX_AGI_DID))
    assert agents.rung() == rang(agent2=1, agent2soft=1)
    row = await settled(pool, IVAN)
    assert (row["route"], row["outcome"]) == ("sticky", "sticky")
    scenarios = {"agent1": "uas_answer.xml", "agent2": "uas_answer.xml"}
    with AgentPhones(asterisk, busy, scenarios, names=PHONES) as agents:
        await busy_desk_phone(asterisk)
        assert_calls_succeeded(
            await call(asterisk, busy, caller_id=SERGEY, dialled=FREEPBX_AGI_DID, hold_ms=1000)
        )
    assert agents.rung()["agent2soft"] == 0
    row = await settled(pool, SERGEY)
    assert (row["route"], row["outcome"], row["outcome_reason"]) == ("sticky", "queue", "busy")


@pytest.mark.usefixtures("agi")
async def test_h_in_fastagi_mode_a_queue_call_answered_on_the_softphone_is_learned(
    asterisk: LocalAsterisk, pool: asyncpg.Pool, phone_logs: Path
) -> None:
    """No router, no AMI: Queue()'s answered hook runs on the Local member's channel, which
    names the agent by the member (Local/102@from-queue)."""
    await identify_agents(pool, "freepbx")  # `agi` reloaded the demo agents
    await setting(pool, "min_talk_seconds", 0)
    first, second = phone_logs / "first", phone_logs / "second"
    with AgentPhones(asterisk, first, {"agent2soft": "uas_answer.xml"}, names=PHONES):
        assert_calls_succeeded(
            await call(asterisk, first, caller_id=STRANGER, dialled=FREEPBX_AGI_DID, hold_ms=1000)
        )
    with AgentPhones(asterisk, second, {"agent2": "uas_answer.xml"}, names=PHONES) as agents:
        assert_calls_succeeded(
            await call(asterisk, second, caller_id=STRANGER, dialled=FREEPBX_AGI_DID, hold_ms=1000)
        )
    assert agents.rung() == rang(agent2=1, agent2soft=1)
    rows = await pool.fetch(
        "SELECT route, route_reason FROM interactions WHERE caller_number = $1"
        " ORDER BY started_at", "+" + STRANGER,
    )  # fmt: skip
    assert [(r["route"], r["route_reason"]) for r in rows][1] == ("sticky", "last_agent")


@pytest.mark.usefixtures("agi")
@pytest.mark.parametrize(("agent2_is", "reason"), [("paused", "paused"), ("logged out", "offline")])
async def test_i_in_fastagi_mode_a_paused_or_logged_out_member_is_never_rung(
    asterisk: LocalAsterisk, pool: asyncpg.Pool, phone_logs: Path, agent2_is: str, reason: str
) -> None:
    await identify_agents(pool, "freepbx")  # `agi` reloaded the demo agents
    member = asterisk.member("agent2")
    if agent2_is == "paused":
        await asyncio.to_thread(asterisk.cli, f"queue pause member {member} queue {asterisk.queue}")
    else:
        await asyncio.to_thread(asterisk.log_out_agent, "agent2")
    with AgentPhones(asterisk, phone_logs, {"agent1": "uas_answer.xml"}, names=PHONES) as agents:
        assert_calls_succeeded(
            await call(asterisk, phone_logs, caller_id=IVAN, dialled=FREEPBX_AGI_DID, hold_ms=1000)
        )
    assert agents.rung() == rang(agent1=1, agent3=1, agent4=1)
    row = await settled(pool, IVAN)
    assert (row["route"], row["outcome"], row["outcome_reason"]) == ("sticky", "queue", reason)


@pytest.mark.usefixtures("agi")
async def test_j_in_fastagi_mode_neither_phone_answering_is_the_queue_after_the_ring_timeout(
    asterisk: LocalAsterisk, pool: asyncpg.Pool, phone_logs: Path
) -> None:
    await identify_agents(pool, "freepbx")  # `agi` reloaded the demo agents
    ring_timeout = 4
    await setting(pool, "ring_timeout_seconds", ring_timeout)
    with AgentPhones(asterisk, phone_logs, {"agent1": "uas_answer.xml"}, names=PHONES) as agents:
        assert_calls_succeeded(
            await call(
                asterisk, phone_logs, caller_id=IVAN, dialled=FREEPBX_AGI_DID,
                hold_ms=ring_timeout * 1000 + 2000,
            )
        )  # fmt: skip
    first_ring = agents.requests("agent2")[0].at
    queue_rang = agents.requests("agent1")[0].at
    assert agents.requests("agent2soft")[0].at < queue_rang
    assert ring_timeout - 0.3 <= (queue_rang - first_ring).total_seconds() <= ring_timeout + 2
    row = await settled(pool, IVAN)
    assert (row["route"], row["outcome"], row["outcome_reason"]) == (
        "sticky", "queue", "no_answer"
    )  # fmt: skip


async def test_k_in_fastagi_mode_a_transfer_from_the_softphone_is_learned_over_ami(
    sandbox: Sandbox, router: Router, asterisk: LocalAsterisk, pool: asyncpg.Pool,
    phone_logs: Path,
) -> None:  # fmt: skip
    """A FastAGI line that wants transfers learned runs the FastAGI process with AMI (the AGI
    hooks see the sticky ring, not what the agent does with the call after): agent2 answers
    Ivan's callback on the softphone and REFERs him to agent3; Ivan talks with agent3 to the
    end, and agent3 is his last agent."""
    await router.stop()
    await identify_agents(pool, "freepbx")
    await setting(pool, "min_talk_seconds", 1)
    ami = AmiSettings(
        "127.0.0.1", asterisk.ami_port, asterisk.ami_credentials.user,
        asterisk.ami_credentials.password,
    )  # fmt: skip
    refer_to = ["-key", "refer_to", f"sip:agent3@127.0.0.1:{asterisk.sip_port}"]
    scenarios = {"agent2soft": "uas_blind_transfer.xml", "agent3": "uas_answer.xml"}
    async with AgiProcess(dataclasses.replace(sandbox.agi_settings(), ami=ami)):
        with AgentPhones(
            asterisk, phone_logs, scenarios, extra_args={"agent2soft": refer_to}, names=PHONES
        ) as agents:
            assert_calls_succeeded(
                await call(
                    asterisk, phone_logs, caller_id=IVAN, dialled=FREEPBX_AGI_DID, hold_ms=6000
                )
            )
            await asyncio.sleep(0.3)
        await asyncio.sleep(1)  # the phones' own reports (AMI) arrive after the caller's end
    await assert_ivan_was_handed_to_agent3(pool, agents)
