"""The AMI learner against a real Asterisk 22: queue answers, blind and attended transfers, and
an Asterisk restart, recorded in a real PostgreSQL, then read back the way the next callback
reads them (RoutingService.decide, preview only)."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import structlog

from devkit.sandbox.asterisk import LocalAsterisk
from devkit.sandbox.asterisk_config import AGENTS
from sticky_router.ami.connection import AmiLearner
from sticky_router.routing_core import IncomingCall, RoutingService, StickyDecision
from sticky_router.routing_core.settings import Scope
from sticky_router.routing_core.store.settings_store import set_setting
from testkit.ami_client import AmiClient
from testkit.sipp import SippPhone, assert_calls_succeeded
from tests.learning.conftest import legs_by_agent, record_call_start, recorded

NUMBER = "79990000001"  # a caller the demo data does not know: what we learn is all there is


def agent_phone(
    asterisk: LocalAsterisk, agent: str, scenario: str, logs: Path, ring_ms: int = 500
) -> SippPhone:
    return SippPhone.agent(scenario, asterisk.agent_port(agent), logs, ring_ms=ring_ms, name=agent)


def queue_caller(asterisk: LocalAsterisk, logs: Path, hold_ms: int) -> SippPhone:
    """The caller dials `queue`: straight into sticky-queue, which answers at once; `hold_ms`
    counts from that answer."""
    return SippPhone.caller(
        "uac.xml", asterisk, logs, dialled="queue", caller_id=NUMBER, hold_ms=hold_ms
    )


async def finish(asterisk: LocalAsterisk, *phones: SippPhone) -> None:
    """Every phone ran its scenario to the end; if not, why, with the end of Asterisk's log."""
    results = await asyncio.gather(*(asyncio.to_thread(phone.wait) for phone in phones))
    try:
        assert_calls_succeeded(*results)
    except AssertionError as failure:
        log = asterisk.log_file.read_text(errors="replace").splitlines()[-40:]
        raise AssertionError(f"{failure}\n\n--- Asterisk log\n" + "\n".join(log)) from None


async def callback_target(pool: asyncpg.Pool) -> str | None:
    """Whom the router would ring first if this caller called back now."""
    service = RoutingService(pool, default_region="RU", db_budget_seconds=5)
    call = IncomingCall("callback", NUMBER, datetime.now(UTC), "support")
    decision = await service.decide(call, claim=False)
    return decision.target.agent.name if isinstance(decision, StickyDecision) else None


async def count_short_talks(pool: asyncpg.Pool) -> None:
    """Test calls talk for seconds; let them count as conversations (default minimum 10 s)."""
    await set_setting(
        pool, scope=Scope.GLOBAL, scope_value=None, key="min_talk_seconds", value=1, actor="test"
    )


async def test_queue_call_is_learned_as_answered_by_agent2(
    asterisk: LocalAsterisk, db: asyncpg.Pool, ami: AmiClient, phone_logs: Path
) -> None:
    """ringall: all four ring, agent2 answers, the queue cancels the others; the caller hangs up."""
    await count_short_talks(db)
    with contextlib.ExitStack() as stack:
        phones = [
            stack.enter_context(agent_phone(asterisk, agent, "uas_noanswer.xml", phone_logs))
            for agent in ("agent1", "agent3", "agent4")
        ]
        answering = agent_phone(asterisk, "agent2", "uas_answer.xml", phone_logs, ring_ms=1000)
        phones.append(stack.enter_context(answering))
        caller = stack.enter_context(queue_caller(asterisk, phone_logs, hold_ms=5000))
        call_id = await record_call_start(ami, db, NUMBER)
        await ami.pause(*AGENTS, paused=False)
        await finish(asterisk, caller, *phones)

    interaction = await recorded(db, call_id)
    legs = await legs_by_agent(db, call_id)
    assert set(legs) == set(AGENTS)
    agent2 = legs["agent2"]
    assert agent2["leg_id"] != call_id  # the agent channel's own Uniqueid
    assert agent2["answered_at"] is not None
    assert (agent2["outcome"], agent2["hangup_side"]) == ("ANSWER", "caller")
    for other in ("agent1", "agent3", "agent4"):
        assert legs[other]["answered_at"] is None
        assert legs[other]["outcome"] == "CANCEL"
        assert legs[other]["transferred_from_leg_id"] is None
    assert interaction["answered_at"] is not None
    assert interaction["hangup_side"] == "caller"
    assert await callback_target(db) == "agent2"


async def test_blind_transfer_by_refer_to_the_specialist_is_learned(
    asterisk: LocalAsterisk, db: asyncpg.Pool, ami: AmiClient, phone_logs: Path
) -> None:
    """agent1 takes the queue call and sends REFER (Refer-To agent3); agent3 answers."""
    with contextlib.ExitStack() as stack:
        transferring = agent_phone(asterisk, "agent1", "uas_blind_transfer.xml", phone_logs)
        transferring.arguments += ["-key", "refer_to", f"sip:agent3@127.0.0.1:{asterisk.sip_port}"]
        agent1 = stack.enter_context(transferring)
        agent3 = stack.enter_context(agent_phone(asterisk, "agent3", "uas_answer.xml", phone_logs))
        caller = stack.enter_context(queue_caller(asterisk, phone_logs, hold_ms=6000))
        call_id = await record_call_start(ami, db, NUMBER)
        await ami.pause("agent1", paused=False)  # the others stay out of the queue
        await finish(asterisk, caller, agent1, agent3)

    interaction = await recorded(db, call_id)
    legs = await legs_by_agent(db, call_id)
    assert set(legs) == {"agent1", "agent3"}
    first, specialist = legs["agent1"], legs["agent3"]
    assert first["answered_at"] is not None
    assert first["transferred_from_leg_id"] is None
    assert (first["outcome"], first["hangup_side"]) == ("ANSWER", "agent")
    assert specialist["transferred_from_leg_id"] == first["leg_id"]
    assert specialist["answered_at"] is not None
    assert specialist["answered_at"] > first["answered_at"]
    assert (specialist["outcome"], specialist["hangup_side"]) == ("ANSWER", "caller")
    assert interaction["hangup_side"] == "caller"
    assert await callback_target(db) == "agent3"


async def test_attended_transfer_by_ami_atxfer_to_the_specialist_is_learned(
    asterisk: LocalAsterisk, db: asyncpg.Pool, ami: AmiClient, phone_logs: Path
) -> None:
    """agent1 takes the queue call, consults agent3 (AMI Atxfer), then hangs up to complete."""
    with contextlib.ExitStack() as stack:
        answering = agent_phone(asterisk, "agent1", "uas_answer.xml", phone_logs, ring_ms=1500)
        agent1 = stack.enter_context(answering)
        agent3 = stack.enter_context(agent_phone(asterisk, "agent3", "uas_answer.xml", phone_logs))
        caller = stack.enter_context(queue_caller(asterisk, phone_logs, hold_ms=8000))
        call_id = await record_call_start(ami, db, NUMBER)
        await ami.pause("agent1", paused=False)
        ring = await ami.event("DialBegin", DestChannel="PJSIP/agent1-")
        agent1_channel = ring["DestChannel"]
        # While agent1 rings, give the call what a desk phone's transfer key needs: transfers
        # allowed for the called agent (Queue option t, via the caller's BRIDGE_FEATURES), an
        # attended-transfer feature code (the sandbox's features.conf sets none), and the
        # target as TRANSFER_EXTEN (Atxfer sends its Exten as DTMF, which has no letters).
        for channel, variable, value in (
            (ring["Channel"], "BRIDGE_FEATURES", "t"),
            (agent1_channel, "FEATUREMAP(atxfer)", "*2"),
            (agent1_channel, "TRANSFER_EXTEN", "agent3"),
        ):
            reply = await ami.action("Setvar", Channel=channel, Variable=variable, Value=value)
            assert reply["Response"] == "Success", reply
        await ami.event("AgentConnect", DestChannel="PJSIP/agent1-")
        reply = await ami.action(
            "Atxfer", Channel=agent1_channel, Exten="agent3", Context="sticky-sandbox-agents"
        )
        assert reply["Response"] == "Success", reply
        await ami.event("DialEnd", DestChannel="PJSIP/agent3-", DialStatus="ANSWER")
        await ami.action("Hangup", Channel=agent1_channel)  # agent1 leaves: the transfer completes
        await ami.event("AttendedTransfer", Result="Success")
        await finish(asterisk, caller, agent1, agent3)

    interaction = await recorded(db, call_id)
    legs = await legs_by_agent(db, call_id)
    assert set(legs) == {"agent1", "agent3"}
    first, specialist = legs["agent1"], legs["agent3"]
    assert first["answered_at"] is not None
    assert (first["outcome"], first["hangup_side"]) == ("ANSWER", "agent")
    assert specialist["transferred_from_leg_id"] == first["leg_id"]
    assert specialist["answered_at"] is not None
    assert (specialist["outcome"], specialist["hangup_side"]) == ("ANSWER", "caller")
    assert interaction["hangup_side"] == "caller"
    assert await callback_target(db) == "agent3"


async def test_a_call_recorded_only_after_the_answer_still_gets_its_legs(
    asterisk: LocalAsterisk, db: asyncpg.Pool, ami: AmiClient, phone_logs: Path
) -> None:
    """The router writes the interaction after handing the call to the queue, so the queue's
    rings can come first: the learner retries until the row is there."""
    with contextlib.ExitStack() as stack:
        answering = agent_phone(asterisk, "agent2", "uas_answer.xml", phone_logs, ring_ms=800)
        agent2 = stack.enter_context(answering)
        caller = stack.enter_context(queue_caller(asterisk, phone_logs, hold_ms=3000))
        channel = await ami.event("Newchannel", Channel="PJSIP/callers-")
        await ami.pause("agent2", paused=False)
        await ami.event("AgentConnect", DestChannel="PJSIP/agent2-")
        call_id = await record_call_start(ami, db, NUMBER)
        assert call_id == channel["Uniqueid"]
        await finish(asterisk, caller, agent2)

    await recorded(db, call_id)
    legs = await legs_by_agent(db, call_id)
    assert set(legs) == {"agent2"}
    assert legs["agent2"]["answered_at"] is not None
    assert legs["agent2"]["rang_at"] < legs["agent2"]["answered_at"]


async def test_the_learner_survives_an_asterisk_restart(
    asterisk: LocalAsterisk, db: asyncpg.Pool, learner: AmiLearner, ami: AmiClient, phone_logs: Path
) -> None:
    await ami.close()
    with structlog.testing.capture_logs() as logs:
        await asyncio.to_thread(asterisk.stop)
        for _ in range(100):
            if not learner.connected.is_set():
                break
            await asyncio.sleep(0.05)
        assert not learner.connected.is_set()
        await asyncio.sleep(1)  # a few refused reconnects
        await asyncio.to_thread(asterisk.start)  # same ports, same credentials
        await learner.wait_connected(30)
    warnings = [entry["event"] for entry in logs if entry["log_level"] == "warning"]
    assert warnings == ["ami_connection_lost"]  # once, however many retries
    assert "ami_connected" in [entry["event"] for entry in logs]

    client = await AmiClient.connect(asterisk)
    try:
        await client.pause(*AGENTS)
        with contextlib.ExitStack() as stack:
            answering = agent_phone(asterisk, "agent2", "uas_answer.xml", phone_logs)
            agent2 = stack.enter_context(answering)
            caller = stack.enter_context(queue_caller(asterisk, phone_logs, hold_ms=2000))
            call_id = await record_call_start(client, db, NUMBER)
            await client.pause("agent2", paused=False)
            await finish(asterisk, caller, agent2)
    finally:
        await client.pause(*AGENTS, paused=False)
        await client.close()
    await recorded(db, call_id)
    assert (await legs_by_agent(db, call_id))["agent2"]["answered_at"] is not None
