"""The wait offer on real calls (issue 16), in ARI and FastAGI modes: Ivan's agent, agent2, is
on another call; Ivan hears that, an estimate, and "press 1 to wait", in Russian. SIPp presses
the keys as a phone does: SIP INFO, or an RFC 2833 telephone event in the media.

agent2's other call is one Asterisk originates (not a support call: its duration is unknown to
us), so the estimate is agent2's typical talk time: the median of the demo's calls, several
minutes. The bound is set above it (15 minutes), except where the test is that an estimate
longer than the bound is never offered.
"""

from __future__ import annotations

import asyncio
import math
import re
from pathlib import Path

import asyncpg
import pytest

from devkit.sandbox.asterisk import LocalAsterisk
from sticky_router.routing_core.settings import Scope
from sticky_router.routing_core.store.settings_store import set_setting
from testkit.sipp import SippPhone, SippResult, assert_calls_succeeded
from tests.e2e.phones import AgentPhones, requests_received
from tests.e2e.records import agent_channel, settled, wait_for_device

IVAN = "79123456701"  # Russian-speaking, last spoke with agent2 42 minutes ago
DIALLED = {"ari": "74950000000", "agi": "agi"}


async def estimate_said(pool: asyncpg.Pool) -> str:
    """The prompt that says what is typically left of agent2's call (their other call is not a
    support call, so all of it): the median of their answered calls in the last 30 days."""
    typical = await pool.fetchval(
        "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM "
        "l.ended_at - l.answered_at)) FROM interaction_legs l JOIN agents a ON a.id = l.agent_id "
        "WHERE a.name = 'agent2' AND l.answered_at IS NOT NULL "
        "AND l.ended_at > now() - interval '30 days'"
    )
    return f"sticky-router/about-{math.ceil(typical / 60)}-minutes (ru)"


async def outcome_of(pool: asyncpg.Pool, number: str) -> asyncpg.Record:
    """The interaction once the router recorded how the attempt ended (the AMI learner may
    record the hang-up a moment before)."""
    for _ in range(50):
        row = await settled(pool, number)
        if row["outcome"] is not None:
            return row
        await asyncio.sleep(0.1)
    return row


pytestmark = pytest.mark.usefixtures("prompts")


async def offer_waits(pool: asyncpg.Pool, seconds: int, answer_seconds: int = 3) -> None:
    for key, value in (
        ("wait_offer_seconds", seconds),
        ("wait_offer_answer_seconds", answer_seconds),
    ):
        await set_setting(pool, scope=Scope.GLOBAL, scope_value=None, key=key, value=value,
                          actor="e2e")  # fmt: skip


async def agent2_on_another_call(asterisk: LocalAsterisk) -> None:
    await asyncio.to_thread(asterisk.cli, "channel originate PJSIP/agent2 application Wait 60")
    await wait_for_device(asterisk, "PJSIP/agent2", "INUSE", "BUSY")


def ivan(asterisk: LocalAsterisk, logs: Path, mode: str, scenario: str, hold_ms: int,
         keys: str = "") -> SippPhone:  # fmt: skip
    phone = SippPhone.caller(
        scenario, asterisk, logs, dialled=DIALLED[mode], caller_id=IVAN, hold_ms=hold_ms,
        timeout_s=90, name="caller",
    )  # fmt: skip
    if keys:
        phone.arguments += ["-key", "dtmf", keys]
    return phone


class AsteriskLog:
    """What Asterisk logged from now on."""

    def __init__(self, asterisk: LocalAsterisk) -> None:
        self._file = asterisk.log_file
        self._start = self._file.stat().st_size

    def text(self) -> str:
        with self._file.open("rb") as lines:
            lines.seek(self._start)
            return lines.read().decode(errors="replace")

    def played(self) -> list[str]:
        """The sounds played, as `name (language)`: Playback() and ARI log each one; AGI's
        STREAM FILE logs nothing of its own, so it is read from AGI's debug lines (the command,
        and the channel language set before it; a sound not found answers result=-1)."""
        text = self.text()
        agi_language = re.search(r'AGI Rx << SET VARIABLE CHANNEL\(language\) "(\w+)"', text)
        found = []
        for line in text.splitlines():
            if match := re.search(r"Playing '([^'.]+)\.\w+' \(language '(\w+)'\)", line):
                found.append(f"{match[1]} ({match[2]})")
            elif match := re.search(r'AGI Rx << STREAM FILE "([^"]+)"', line):
                found.append(f"{match[1]} ({agi_language[1] if agi_language else '?'})")
        assert "AGI Tx >> 200 result=-1" not in text, "a prompt AGI could not find"
        return found

    async def until(self, text: str, seconds: float = 20) -> None:
        for _ in range(int(seconds * 10)):
            if text in self.text():
                return
            await asyncio.sleep(0.1)
        raise AssertionError(f"Asterisk never logged {text!r}")


ON_ANOTHER_CALL = "sticky-router/agent-on-another-call (ru)"
PRESS_1 = "sticky-router/press-1-to-wait (ru)"


@pytest.mark.parametrize("scenario", ["uac_ivr.xml", "uac_rfc2833.xml"])
async def test_pressing_1_waits_on_hold_and_agent2_rings_the_moment_they_are_free(
    mode: str, scenario: str, asterisk: LocalAsterisk, pool: asyncpg.Pool, phone_logs: Path
) -> None:
    await offer_waits(pool, 900)
    log = AsteriskLog(asterisk)
    with AgentPhones(
        asterisk, phone_logs, {"agent1": "uas_answer.xml", "agent2": "uas_answer.xml"}
    ) as phones:
        await agent2_on_another_call(asterisk)
        caller = ivan(asterisk, phone_logs, mode, scenario, hold_ms=9000, keys="1")
        running = asyncio.create_task(asyncio.to_thread(caller.run))
        await log.until("Started music on hold")  # Ivan pressed 1: on hold for agent2
        await asyncio.sleep(1.0)  # held, not rushed: nobody else is rung meanwhile
        assert phones.rung() == {"agent1": 0, "agent2": 1, "agent3": 0, "agent4": 0}
        other = await agent_channel(asterisk, "agent2")
        await asyncio.to_thread(asterisk.cli, f"channel request hangup {other}")
        result: SippResult = await running
        assert_calls_succeeded(result)
    assert phones.rung() == {"agent1": 0, "agent2": 2, "agent3": 0, "agent4": 0}
    freed = phones.requests("agent2", "BYE")[0].at
    rung = phones.requests("agent2")[1].at
    # At once, but for the announcement (about 2 s), said before the ring, and in AGI mode the
    # state read twice a second (no device-state events over AGI).
    assert 0 <= (rung - freed).total_seconds() < 3.2
    # The key came a second into the offer: it cut the prompts short (no "press 1" after it).
    assert log.played() == [ON_ANOTHER_CALL, "sticky-router/connecting-to-your-agent (ru)"]
    row = await settled(pool, IVAN)
    assert (row["route"], row["outcome"]) == ("sticky", "sticky")
    assert await pool.fetchval("SELECT count(*) FROM sticky_claims WHERE released_at IS NULL") == 0


async def test_no_key_means_the_next_free_agent_after_the_offer(
    mode: str, asterisk: LocalAsterisk, pool: asyncpg.Pool, phone_logs: Path
) -> None:
    await offer_waits(pool, 900, answer_seconds=2)
    log = AsteriskLog(asterisk)
    with AgentPhones(asterisk, phone_logs, {"agent1": "uas_answer.xml"}) as phones:
        await agent2_on_another_call(asterisk)
        caller = ivan(asterisk, phone_logs, mode, "uac.xml", hold_ms=16000)
        assert_calls_succeeded(await asyncio.to_thread(caller.run))
    assert phones.rung()["agent1"] == 1
    assert phones.rung()["agent2"] == 1  # only the other call
    assert log.played()[:3] == [ON_ANOTHER_CALL, await estimate_said(pool), PRESS_1]
    sent = requests_received(phone_logs / "caller.messages.log", "sent")
    answered = next(r for r in sent if r.method == "ACK").at
    queue_rang = phones.requests("agent1")[0].at
    assert (queue_rang - answered).total_seconds() > 2  # the prompts, then 2 s for a key
    row = await settled(pool, IVAN)
    assert (row["route"], row["outcome"], row["outcome_reason"]) == ("sticky", "queue", "busy")


async def test_another_key_means_the_next_free_agent_at_once(
    mode: str, asterisk: LocalAsterisk, pool: asyncpg.Pool, phone_logs: Path
) -> None:
    answer_seconds = 15  # a caller who did not answer would wait this long after the prompts
    await offer_waits(pool, 900, answer_seconds=answer_seconds)
    with AgentPhones(asterisk, phone_logs, {"agent1": "uas_answer.xml"}) as phones:
        await agent2_on_another_call(asterisk)
        caller = ivan(asterisk, phone_logs, mode, "uac_ivr.xml", hold_ms=4000, keys="2")
        assert_calls_succeeded(await asyncio.to_thread(caller.run))
    pressed = requests_received(phone_logs / "caller.messages.log", "sent")
    info = next(r for r in pressed if r.method == "INFO").at
    queue_rang = phones.requests("agent1")[0].at
    assert 0 < (queue_rang - info).total_seconds() < 3  # not after the prompts and 15 s
    assert phones.rung()["agent2"] == 1
    row = await settled(pool, IVAN)
    assert (row["outcome"], row["outcome_reason"]) == ("queue", "busy")


async def test_hanging_up_on_hold_frees_agent2_and_is_recorded_as_abandoned(
    mode: str, asterisk: LocalAsterisk, pool: asyncpg.Pool, phone_logs: Path
) -> None:
    await offer_waits(pool, 900)
    log = AsteriskLog(asterisk)
    with AgentPhones(asterisk, phone_logs, {"agent1": "uas_answer.xml"}) as phones:
        await agent2_on_another_call(asterisk)
        caller = ivan(asterisk, phone_logs, mode, "uac_ivr.xml", hold_ms=3000, keys="1")
        assert_calls_succeeded(await asyncio.to_thread(caller.run))  # BYE while on hold
    assert "Started music on hold" in log.text()
    assert phones.rung() == {"agent1": 0, "agent2": 1, "agent3": 0, "agent4": 0}
    row = await outcome_of(pool, IVAN)
    assert (row["outcome"], row["hangup_side"]) == ("abandoned", "caller")
    for _ in range(30):  # the claim is let go as the caller leaves
        if not await pool.fetchval("SELECT count(*) FROM sticky_claims WHERE released_at IS NULL"):
            break
        await asyncio.sleep(0.1)
    assert await pool.fetchval("SELECT count(*) FROM sticky_claims WHERE released_at IS NULL") == 0


async def test_an_estimate_longer_than_the_wait_allowed_is_never_offered(
    mode: str, asterisk: LocalAsterisk, pool: asyncpg.Pool, phone_logs: Path
) -> None:
    await offer_waits(pool, 120)
    assert "about-1-" not in await estimate_said(pool)  # longer than the 2 minutes allowed
    log = AsteriskLog(asterisk)
    with AgentPhones(asterisk, phone_logs, {"agent1": "uas_answer.xml"}) as phones:
        await agent2_on_another_call(asterisk)
        caller = ivan(asterisk, phone_logs, mode, "uac_ivr.xml", hold_ms=2000, keys="1")
        assert_calls_succeeded(await asyncio.to_thread(caller.run))
    assert not [p for p in log.played() if "another-call" in p or "press-1" in p]
    assert phones.rung()["agent1"] == 1
    row = await settled(pool, IVAN)
    assert (row["outcome"], row["outcome_reason"]) == ("queue", "busy")
