"""The live view on a real line (issue 22): a supervisor watches in Chromium while Ivan's SIPp
callback rings agent2 (sticky), is answered and ends; agent2's state follows what Asterisk's
queue reports over AMI (free, ringing, on a call, paused with the reason keyed in); and when
Ivan calls while agent2 is paused, the miss appears with its reason."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import pytest
from playwright.async_api import Page

from devkit.sandbox.asterisk import LocalAsterisk
from sticky_router.process.router import Router
from testkit.sipp import assert_calls_succeeded
from tests.admin_browser.test_admin_window import IVAN, newest_call
from tests.e2e.phones import AgentPhones, call

pytestmark = pytest.mark.usefixtures("fresh")

SECONDS = 10_000  # ms Playwright waits for each state to arrive


def agent_row(page: Page, name: str, state: str) -> str:
    return f"#live-agents tr[data-name='{name}'][data-state='{state}']"


async def test_the_live_view_follows_a_sticky_call_an_agents_state_and_a_miss(
    router: Router,
    admin_page: Page,
    base_url: str,
    asterisk: LocalAsterisk,
    pool: asyncpg.Pool,
    phone_logs: Path,
    artifacts: Path,
) -> None:
    page = admin_page
    await page.goto(f"{base_url}/admin/live")
    await page.wait_for_selector("#link-state[data-state='up']", timeout=SECONDS)
    await page.wait_for_selector(agent_row(page, "agent2", "free"), timeout=SECONDS)
    assert await page.locator("#live-agents-unknown").is_hidden()

    # agent2's phone rings three seconds before it answers: long enough to be seen ringing.
    # (Ivan's hold counts from Asterisk's answer, before the ring.)
    logs = phone_logs / "live-sticky"
    with AgentPhones(asterisk, logs, {"agent2": "uas_answer.xml"}, ring_ms={"agent2": 3000}):
        ivan = asyncio.create_task(call(asterisk, logs, caller_id=IVAN, hold_ms=7000))
        ringing = "#live-calls tr[data-state='ringing_agent'][data-agent='Boris Ivanov']"
        await page.wait_for_selector(ringing, timeout=SECONDS)
        await page.wait_for_selector(agent_row(page, "agent2", "ringing"), timeout=SECONDS)
        await page.screenshot(path=str(artifacts / "live-ringing.png"), full_page=True)
        shown = await page.locator(ringing).inner_text()
        assert "…6701" in shown
        assert "their last agent" in shown
        assert IVAN not in await page.content()
        await page.wait_for_selector(
            "#live-calls tr[data-state='talking'][data-agent='Boris Ivanov']", timeout=SECONDS
        )
        await page.wait_for_selector(agent_row(page, "agent2", "busy"), timeout=SECONDS)
        assert_calls_succeeded(await ivan)
    await page.wait_for_selector("#live-no-calls:not([hidden])", timeout=SECONDS)
    await page.wait_for_selector(agent_row(page, "agent2", "free"), timeout=SECONDS)
    sticky = await page.locator("#live-agents tr[data-name='agent2'] td").nth(3).inner_text()
    assert sticky == "1"  # this hour's sticky callbacks: the one just taken

    # agent2 goes on a break from their phone's panel; the view says so, reason and all.
    said = await asyncio.to_thread(
        asterisk.cli,
        f"queue pause member {asterisk.member('agent2')} queue {asterisk.queue} reason break",
    )
    assert said.startswith("paused interface"), said
    await page.wait_for_selector(agent_row(page, "agent2", "paused"), timeout=SECONDS)
    state = await page.locator(agent_row(page, "agent2", "paused") + " td").nth(1).inner_text()
    assert state == "paused (break)"
    logs = phone_logs / "live-miss"
    with AgentPhones(asterisk, logs, {"agent1": "uas_answer.xml"}):
        assert_calls_succeeded(await call(asterisk, logs, caller_id=IVAN, hold_ms=1500))
    row = await newest_call(pool)
    assert (row["route"], row["outcome"], row["outcome_reason"]) == ("sticky", "queue", "paused")
    miss = "#live-misses tr[data-reason='paused'][data-agent='Boris Ivanov']"
    await page.wait_for_selector(miss, timeout=SECONDS)
    assert "agent paused" in await page.locator(miss).inner_text()
    await page.screenshot(path=str(artifacts / "live-paused-miss.png"), full_page=True)
