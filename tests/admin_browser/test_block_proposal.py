"""An abusive caller from the agent's screen to the supervisor's decision, in Chromium on a real
line (issue 22): Ivan shouts at agent2 on a SIPp call; agent2 warns him and proposes a temporary
block from the pop; a supervisor sees the proposal with its warning on the flags page and
approves it to the supervisors' queue; Ivan's next call rings only agent4, never agent2."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import pytest
from playwright.async_api import Browser, BrowserContext, Page

from devkit.sandbox.asterisk import LocalAsterisk
from sticky_router.process.router import Router
from sticky_router.web.auth.accounts import set_password
from testkit.sipp import assert_calls_succeeded
from tests.admin_browser.test_admin_window import IVAN, newest_call
from tests.browser.conftest import PASSWORD, open_screen
from tests.e2e.phones import AgentPhones, call

pytestmark = pytest.mark.usefixtures("fresh")

POP = "article.pop"
STATUS = '[data-role="action-status"]'


async def test_a_block_proposed_on_the_pop_and_approved_sends_the_next_call_there(
    router: Router,
    admin_page: Page,
    chromium: Browser,
    contexts: list[BrowserContext],
    base_url: str,
    asterisk: LocalAsterisk,
    pool: asyncpg.Pool,
    phone_logs: Path,
    artifacts: Path,
) -> None:
    await set_password(pool, "agent", "agent2", PASSWORD)
    agent2 = await open_screen(chromium, contexts, base_url, "agent2")

    logs = phone_logs / "abusive"
    with AgentPhones(asterisk, logs, {"agent2": "uas_answer.xml"}):
        ivan = asyncio.create_task(call(asterisk, logs, caller_id=IVAN, hold_ms=6000))
        await agent2.wait_for_selector(POP, timeout=20_000)
        await agent2.fill("form.warn input[name=note]", "asked him twice to stop shouting")
        await agent2.click("form.warn button")
        await agent2.wait_for_selector(".mark-warnings", timeout=5_000)
        assert await agent2.locator(".mark-warnings").inner_text() == (
            "Warned for their conduct: 1 time(s)"
        )
        await agent2.fill("form.propose-block input[name=reason]", "shouting after a warning")
        await agent2.click("form.propose-block button")
        await agent2.wait_for_selector(f"{STATUS}:has-text('Sent for a supervisor')")
        await agent2.wait_for_selector(".mark-block_proposed")
        await agent2.screenshot(path=str(artifacts / "pop-block-proposed.png"), full_page=True)
        assert_calls_succeeded(await ivan)

    page = admin_page
    await page.goto(f"{base_url}/admin/flags")
    proposal = page.locator("#proposals tr[data-proposal]")
    assert await proposal.count() == 1
    shown = await proposal.inner_text()
    assert "shouting after a warning" in shown
    assert "agent:agent2" in shown
    assert await proposal.locator("td.warnings").inner_text() == "1"
    await proposal.locator("form.approve-proposal button").click()  # supervisors, 30 days
    await page.wait_for_selector("#reviewed")
    await page.screenshot(path=str(artifacts / "flags-proposal-approved.png"), full_page=True)
    assert "supervisors" in await page.locator("#blocks tr", has_text="Ivan").inner_text()

    logs = phone_logs / "after-approval"
    answering = {"agent2": "uas_answer.xml", "agent4": "uas_answer.xml"}
    with AgentPhones(asterisk, logs, answering) as phones:
        assert_calls_succeeded(await call(asterisk, logs, caller_id=IVAN, hold_ms=1500))
    assert phones.rung() == {"agent1": 0, "agent2": 0, "agent3": 0, "agent4": 1}
    assert (await newest_call(pool))["route"] == "blocked"
