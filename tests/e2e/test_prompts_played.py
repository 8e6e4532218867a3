"""The product's prompts on a real Asterisk 22 (issue 16): "connecting you to your agent" is
heard, in the caller's language (the customer's, through STICKY_LANGUAGE and the channel's
language); a language without prompts falls back to English; a hostile language in the
database reaches no dialplan application."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import pytest

from devkit.sandbox.asterisk import LocalAsterisk
from testkit.sipp import assert_calls_succeeded
from tests.e2e.phones import AgentPhones, call
from tests.e2e.records import settled

pytestmark = pytest.mark.usefixtures("fresh", "prompts")

IVAN = "79123456701"  # Russian-speaking, sticky to agent2
ELENA = "79123456706"  # English-speaking VIP, sticky to agent4
PROMPT = "sticky-router/connecting-to-your-agent"


async def heard(asterisk: LocalAsterisk, logs: Path, caller: str, agent: str) -> str:
    """What Asterisk's log says while `caller`'s sticky call to `agent` runs."""
    log = asterisk.log_file
    start = log.stat().st_size
    with AgentPhones(asterisk, logs, {agent: "uas_answer.xml"}) as phones:
        # The caller stays past the prompt (about 2 s), which is said before the agent rings.
        assert_calls_succeeded(await call(asterisk, logs, caller_id=caller, hold_ms=4000))
    assert phones.rung()[agent] == 1
    with log.open("rb") as lines:
        lines.seek(start)
        return lines.read().decode(errors="replace")


def playing(text: str) -> list[str]:
    """What Playback() played: `'name.format' (language 'xx')` (Asterisk logs the format it
    decoded, `slin` for the prompts' 8 kHz WAV, `gsm` for a GSM file)."""
    return [line.split("Playing ", 1)[1] for line in text.splitlines() if "Playing '" in line]


def played(text: str, language: str) -> bool:
    return any(p.startswith(f"'{PROMPT}.") and p.endswith(f"(language '{language}')")
               for p in playing(text))  # fmt: skip


async def test_the_announcement_is_heard_in_the_callers_language(
    asterisk: LocalAsterisk, pool: asyncpg.Pool, phone_logs: Path
) -> None:
    russian = await heard(asterisk, phone_logs / "ru", IVAN, "agent2")
    assert played(russian, "ru"), playing(russian)
    assert (await settled(pool, IVAN))["outcome"] == "sticky"
    english = await heard(asterisk, phone_logs / "en", ELENA, "agent4")
    assert played(english, "en"), playing(english)


async def test_a_language_without_prompts_hears_english_and_a_hostile_one_nothing_else(
    asterisk: LocalAsterisk, pool: asyncpg.Pool, phone_logs: Path
) -> None:
    ivan = "+" + IVAN
    customer = await pool.fetchval("SELECT customer_id FROM phone_numbers WHERE e164 = $1", ivan)
    await pool.execute("UPDATE customers SET language = 'de' WHERE id = $1", customer)
    german = await heard(asterisk, phone_logs / "de", IVAN, "agent2")
    assert played(german, "de"), playing(german)
    assert "No such file" not in german  # found in English

    # System() would run inside Asterisk's root: the marker is looked for there.
    marker = asterisk.root_dir / "tmp/sticky-router-language-injection"
    await asyncio.to_thread(marker.unlink, missing_ok=True)
    hostile = "ru)|System(touch /tmp/sticky-router-language-injection)"
    await pool.execute("UPDATE customers SET language = $2 WHERE id = $1", customer, hostile)
    text = await heard(asterisk, phone_logs / "hostile", IVAN, "agent2")
    assert played(text, "en"), playing(text)
    assert "System(" not in text
    assert not await asyncio.to_thread(marker.exists)
