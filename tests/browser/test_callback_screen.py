"""A callback on the agent's screen, in headless Chromium, on real calls (issue 16): Ivan's agent,
agent2, is on another call; offered to wait, Ivan presses 2 and is thanked. agent2 finishes the
call but goes on a break (paused), so the router does not ring them; agent2's screen lists
"Ivan Petrov · T-1001" among the callbacks they owe, and agent2 presses "Call now": their phone
rings, they answer, and Ivan's phone rings and answers. Screenshot in artifacts/browser/.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import pytest
from playwright.async_api import Browser, BrowserContext

from devkit.sandbox.asterisk import LocalAsterisk
from sticky_router.routing_core.settings import Scope
from sticky_router.routing_core.store.settings_store import set_setting
from testkit.sipp import SippPhone, assert_calls_succeeded
from tests.browser.conftest import open_screen
from tests.e2e.phones import AgentPhones, requests_received
from tests.e2e.records import agent_channel, wait_for_device

IVAN = "79123456701"


pytestmark = pytest.mark.usefixtures("fresh", "prompts")


async def status_of_the_callback(pool: asyncpg.Pool) -> str | None:
    return await pool.fetchval("SELECT status FROM callbacks")  # type: ignore[no-any-return]


async def test_the_agent_calls_back_from_a_break_with_call_now(
    chromium: Browser, contexts: list[BrowserContext], base_url: str, asterisk: LocalAsterisk,
    pool: asyncpg.Pool, phone_logs: Path, artifacts: Path,
) -> None:  # fmt: skip
    for key, value in (("wait_offer_seconds", 900), ("callback_expiry_minutes", 60)):
        await set_setting(pool, scope=Scope.GLOBAL, scope_value=None, key=key, value=value,
                          actor="e2e")  # fmt: skip
    with AgentPhones(asterisk, phone_logs, {"agent2": "uas_answer.xml"}) as phones:
        await asyncio.to_thread(asterisk.cli, "channel originate PJSIP/agent2 application Wait 60")
        await wait_for_device(asterisk, "PJSIP/agent2", "INUSE", "BUSY")
        ivan = SippPhone.caller(
            "uac_keys_then_hung_up.xml", asterisk, phone_logs, dialled="74950000000",
            caller_id=IVAN, timeout_s=60, name="ivan-asks",
        )  # fmt: skip
        ivan.arguments += ["-key", "dtmf", "2"]
        assert_calls_succeeded(await asyncio.to_thread(ivan.run))
        # agent2's call ends, and agent2 takes a break: owed, but not rung while paused.
        await asyncio.to_thread(asterisk.cli, "queue pause member PJSIP/agent2 queue support")
        other = await agent_channel(asterisk, "agent2")
        await asyncio.to_thread(asterisk.cli, f"channel request hangup {other}")
        await asyncio.sleep(4)  # two of the dialer's looks
        assert await status_of_the_callback(pool) == "pending"
        assert phones.rung()["agent2"] == 1

        page = await open_screen(chromium, contexts, base_url, "agent2")
        owed = (await page.text_content("#callbacks")) or ""
        assert "Ivan Petrov" in owed
        assert "T-1001" in owed
        ivans_phone = SippPhone.agent("uas_answer_hangup.xml", asterisk.caller_port, phone_logs,
                                      ring_ms=300, name="ivan-called-back").start()  # fmt: skip
        try:
            await page.click("#callbacks button")  # "Call now"
            await page.wait_for_url(f"{base_url}/agent/")
            await page.screenshot(path=str(artifacts / "agent-callback.png"), full_page=True)
            async with asyncio.timeout(30):
                while await status_of_the_callback(pool) != "done":  # noqa: ASYNC110
                    await asyncio.sleep(0.2)
            assert_calls_succeeded(await asyncio.to_thread(ivans_phone.wait, 30))
        finally:
            ivans_phone.stop()
    assert phones.rung()["agent2"] == 2  # from the break, because agent2 asked
    assert [r.method for r in requests_received(phone_logs / "ivan-called-back.messages.log")][
        :1
    ] == ["INVITE"]
    await page.reload()
    assert "Ivan Petrov" not in ((await page.text_content("#callbacks")) or "")  # made
