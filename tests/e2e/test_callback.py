"""A callback owned by the agent (issue 16), on real calls: Ivan's agent, agent2, is on another
call; offered to wait, Ivan presses 2, hears "your agent will call you back" and is hung up on.
The callback is agent2's: the moment agent2 is free (as Asterisk reports it over AMI), the
router rings agent2 first, and once agent2 answers, Ivan's phone (a SIPp phone on the caller's
port, reached through the sandbox's `sticky-callback-dial`) rings and answers. Ivan asks in ARI
mode or through the FastAGI lookup; the router dials in both.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path

import asyncpg
import pytest

from devkit.sandbox.asterisk import LocalAsterisk
from sticky_router.process.router import Router
from sticky_router.routing_core.settings import Scope
from sticky_router.routing_core.store.settings_store import set_setting
from testkit.sipp import SippPhone, assert_calls_succeeded
from tests.e2e.phones import AgentPhones, requests_received
from tests.e2e.records import agent_channel, legs, until, wait_for_device
from tests.e2e.test_wait_offer import DIALLED, IVAN, AsteriskLog

pytestmark = pytest.mark.usefixtures("prompts")


async def offer_callbacks(pool: asyncpg.Pool) -> None:
    for key, value in (
        ("wait_offer_seconds", 900),
        ("wait_offer_answer_seconds", 3),
        ("callback_expiry_minutes", 60),
    ):
        await set_setting(pool, scope=Scope.GLOBAL, scope_value=None, key=key, value=value,
                          actor="e2e")  # fmt: skip


async def owe_ivan_a_callback(pool: asyncpg.Pool, at: datetime, *, asked_now: bool = False) -> None:
    """agent2 owes Ivan a callback asked at `at` (as the wait offer's 2 leaves it); `asked_now`:
    agent2 pressed "Call now" on their screen."""
    agent2 = await pool.fetchval("SELECT id FROM agents WHERE name = 'agent2'")
    ivans_call = await pool.fetchval("SELECT call_id FROM interactions WHERE call_id = 'demo-0-0'")
    await pool.execute(
        "INSERT INTO callbacks (call_id, agent_id, number, queue, requested_at, expires_at,"
        " call_now_at) VALUES ($1, $2, $3, 'support', $4::timestamptz,"
        " $4::timestamptz + interval '1 hour', CASE WHEN $5 THEN $4::timestamptz END)",
        ivans_call, agent2, "+" + IVAN, at, asked_now,
    )  # fmt: skip


async def agent2_just_hung_up(pool: asyncpg.Pool) -> datetime:
    """agent2's last answered call, in the recorded history, ends now; when that is."""
    ended = await pool.fetchval(
        "UPDATE interaction_legs SET ended_at = now() WHERE id = (SELECT max(id) FROM"
        " interaction_legs WHERE agent_id = (SELECT id FROM agents WHERE name = 'agent2')"
        " AND answered_at IS NOT NULL) RETURNING ended_at"
    )
    assert isinstance(ended, datetime)
    return ended


async def callback_done(pool: asyncpg.Pool) -> bool:
    return bool(await pool.fetchval("SELECT status FROM callbacks") == "done")


def connected_attempts(router: Router) -> float:
    sample = router.metrics.registry.get_sample_value(
        "sticky_router_callback_attempts_total", {"outcome": "connected"}
    )
    return sample or 0.0


async def test_pressing_2_makes_agent2_call_ivan_back_once_free(
    mode: str, router: Router, asterisk: LocalAsterisk, pool: asyncpg.Pool, phone_logs: Path
) -> None:
    await offer_callbacks(pool)
    log = AsteriskLog(asterisk)
    connected_before = connected_attempts(router)
    with AgentPhones(asterisk, phone_logs, {"agent2": "uas_answer.xml"}) as phones:
        await asyncio.to_thread(asterisk.cli, "channel originate PJSIP/agent2 application Wait 60")
        await wait_for_device(asterisk, "PJSIP/agent2", "INUSE", "BUSY")
        ivan = SippPhone.caller(
            "uac_keys_then_hung_up.xml", asterisk, phone_logs, dialled=DIALLED[mode],
            caller_id=IVAN, timeout_s=60, name="ivan-asks",
        )  # fmt: skip
        ivan.arguments += ["-key", "dtmf", "2"]
        assert_calls_succeeded(await asyncio.to_thread(ivan.run))  # thanked, then hung up on
        assert "sticky-router/callback-confirmed" in " ".join(log.played())
        asked = await pool.fetchrow("SELECT * FROM callbacks")
        for _ in range(30):  # the journal applies it a moment later
            if asked is not None:
                break
            await asyncio.sleep(0.1)
            asked = await pool.fetchrow("SELECT * FROM callbacks")
        assert asked is not None
        assert (asked["number"], asked["status"]) == ("+" + IVAN, "pending")
        assert asked["agent_id"] == await pool.fetchval("SELECT id FROM agents WHERE name='agent2'")
        row = await pool.fetchrow("SELECT * FROM interactions WHERE call_id = $1", asked["call_id"])
        assert row is not None
        assert (row["route"], row["outcome"]) == ("sticky", "callback")
        await asyncio.sleep(3)  # agent2 still busy: nothing is dialled
        assert phones.rung()["agent2"] == 1

        if not router.running:  # FastAGI mode: the router dials (it has ARI and AMI)
            await router.start()
            await router.wait_connected(10)
        # Ivan's phone now listens where his calls come from, and answers the callback.
        ivans_phone = SippPhone.agent("uas_answer_hangup.xml", asterisk.caller_port, phone_logs,
                                      ring_ms=500, name="ivan-called-back").start()  # fmt: skip
        try:
            other = await agent_channel(asterisk, "agent2")
            await asyncio.to_thread(asterisk.cli, f"channel request hangup {other}")

            async def done() -> bool:
                status = await pool.fetchval("SELECT status FROM callbacks WHERE id = $1",
                                             asked["id"])  # fmt: skip
                return bool(status == "done")

            await until(done, 30)
            assert_calls_succeeded(await asyncio.to_thread(ivans_phone.wait, 30))
        finally:
            ivans_phone.stop()
    assert phones.rung()["agent2"] == 2  # the other call, then the callback: agent2 first
    ivan_rung = requests_received(phone_logs / "ivan-called-back.messages.log")
    assert [r.method for r in ivan_rung][:1] == ["INVITE"]
    assert ivan_rung[0].at > phones.requests("agent2")[1].at  # after agent2's phone rang
    finished = await pool.fetchrow("SELECT * FROM callbacks WHERE id = $1", asked["id"])
    assert finished is not None
    assert (finished["outcome"], finished["attempts"]) == ("connected", 1)
    callback_call = await pool.fetchrow(
        "SELECT * FROM interactions WHERE route_reason = 'callback' ORDER BY id DESC LIMIT 1"
    )
    assert callback_call is not None
    assert callback_call["customer_id"] == row["customer_id"]  # Ivan's history
    [leg] = await legs(pool, callback_call["id"])
    assert leg["agent"] == "agent2"
    assert leg["answered_at"] is not None
    assert await pool.fetchval("SELECT count(*) FROM sticky_claims WHERE released_at IS NULL") == 0
    assert connected_attempts(router) == connected_before + 1


async def test_a_callback_agent2_does_not_answer_is_tried_again_later_never_to_ivan_first(
    fresh: object, asterisk: LocalAsterisk, pool: asyncpg.Pool, phone_logs: Path
) -> None:
    """The agent's phone rings first: agent2 not answering means Ivan's phone never rings; the
    callback stays agent2's, tried again after a pause, and agent2 is free for other calls."""
    await offer_callbacks(pool)
    await set_setting(pool, scope=Scope.GLOBAL, scope_value=None, key="ring_timeout_seconds",
                      value=3, actor="e2e")  # fmt: skip
    at = await pool.fetchval("SELECT now()")
    await owe_ivan_a_callback(pool, at)
    with AgentPhones(asterisk, phone_logs, {"agent2": "uas_noanswer.xml"}) as phones:
        ivans_phone = SippPhone.agent("uas_answer_hangup.xml", asterisk.caller_port, phone_logs,
                                      name="ivan-never-rung").start()  # fmt: skip
        try:

            async def missed() -> bool:
                outcome = await pool.fetchval("SELECT outcome FROM callbacks")
                return bool(outcome == "agent_no_answer")

            await until(missed, 20)
        finally:
            ivans_phone.stop()
    assert phones.rung()["agent2"] == 1
    assert requests_received(phone_logs / "ivan-never-rung.messages.log") == []
    row = await pool.fetchrow("SELECT * FROM callbacks")
    assert row is not None
    assert (row["status"], row["attempts"]) == ("pending", 1)
    assert (row["next_attempt_at"] - at).total_seconds() > 60  # not rung again at once
    assert await pool.fetchval("SELECT count(*) FROM sticky_claims WHERE released_at IS NULL") == 0


async def test_a_callback_waits_for_agent2s_wrap_up_unless_they_ask_for_it_now(
    fresh: object, asterisk: LocalAsterisk, pool: asyncpg.Pool, phone_logs: Path
) -> None:
    """agent2 has just put the phone down after a call, and the line gives agents 8 s of
    after-call work (`wrap_up_seconds`): their phone is free as Asterisk sees it, but the owed
    callback rings them only once the wrap-up is over, as a sticky call would."""
    await offer_callbacks(pool)
    await set_setting(pool, scope=Scope.GLOBAL, scope_value=None, key="wrap_up_seconds",
                      value=8, actor="e2e")  # fmt: skip
    ended = await agent2_just_hung_up(pool)
    await owe_ivan_a_callback(pool, ended)
    with AgentPhones(asterisk, phone_logs, {"agent2": "uas_answer.xml"}) as phones:
        ivans_phone = SippPhone.agent("uas_answer_hangup.xml", asterisk.caller_port, phone_logs,
                                      ring_ms=500, name="ivan-after-wrap-up").start()  # fmt: skip
        try:
            await asyncio.sleep(5)  # the dialer looks every 2 s: two looks inside the wrap-up
            assert phones.rung()["agent2"] == 0, "rung during the wrap-up"
            await until(lambda: callback_done(pool), 30)
            assert_calls_succeeded(await asyncio.to_thread(ivans_phone.wait, 30))
        finally:
            ivans_phone.stop()
    [ring] = phones.requests("agent2")[:1]
    # Not before the wrap-up was over (SIPp logs local time, naive).
    assert (ring.at - ended.astimezone().replace(tzinfo=None)).total_seconds() >= 8


async def test_call_now_rings_an_agent_in_wrap_up(
    fresh: object, asterisk: LocalAsterisk, pool: asyncpg.Pool, phone_logs: Path
) -> None:
    """An agent who presses "Call now" on their screen has finished their after-call work."""
    await offer_callbacks(pool)
    await set_setting(pool, scope=Scope.GLOBAL, scope_value=None, key="wrap_up_seconds",
                      value=600, actor="e2e")  # fmt: skip
    await owe_ivan_a_callback(pool, await agent2_just_hung_up(pool), asked_now=True)
    with AgentPhones(asterisk, phone_logs, {"agent2": "uas_answer.xml"}) as phones:
        ivans_phone = SippPhone.agent("uas_answer_hangup.xml", asterisk.caller_port, phone_logs,
                                      ring_ms=500, name="ivan-called-now").start()  # fmt: skip
        try:
            await until(lambda: callback_done(pool), 30)
        finally:
            ivans_phone.stop()
    assert phones.rung()["agent2"] == 1
