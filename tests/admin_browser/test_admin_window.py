"""An admin changes the window in the browser and the very next callback obeys it (issue 5)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import pytest
from playwright.async_api import Page

from sticky_router.process.router import Router
from sticky_router.process.sandbox.asterisk import LocalAsterisk
from testkit.sipp import assert_calls_succeeded
from tests.e2e.phones import AgentPhones, call

IVAN = "79123456701"  # demo: last spoke with agent2 42 minutes ago

pytestmark = pytest.mark.usefixtures("fresh")


async def newest_call(pool: asyncpg.Pool) -> asyncpg.Record:
    """Ivan's latest call during the test, once its end is recorded."""
    for _ in range(50):
        row = await pool.fetchrow(
            "SELECT * FROM interactions WHERE caller_number = $1 AND call_id NOT LIKE 'demo-%'"
            " ORDER BY started_at DESC LIMIT 1",
            "+" + IVAN,
        )
        if row is not None and row["ended_at"] is not None:
            return row
        await asyncio.sleep(0.1)
    raise AssertionError("the call's end was never recorded")


async def set_window(page: Page, base_url: str, minutes: int, artifacts: Path) -> None:
    await page.goto(f"{base_url}/admin/settings?queue=support")
    await page.select_option("#change-setting select[name=key]", "window_minutes")
    await page.select_option("#change-setting select[name=scope]", "global")
    await page.fill("#change-setting input[name=value]", str(minutes))
    await page.click("#change-setting button[type=submit]")
    await page.wait_for_selector("#saved")
    await page.screenshot(path=str(artifacts / f"settings-window-{minutes}.png"), full_page=True)
    row = page.locator("#effective tr", has_text="window_minutes")
    assert f"{minutes}" in (await row.inner_text())


async def test_the_next_callback_obeys_the_window_set_in_the_browser(
    router: Router,
    admin_page: Page,
    base_url: str,
    asterisk: LocalAsterisk,
    pool: asyncpg.Pool,
    phone_logs: Path,
    artifacts: Path,
) -> None:
    page = admin_page

    # 30 minutes: Ivan's conversation 42 minutes ago is outside it, he goes to the queue.
    await set_window(page, base_url, 30, artifacts)
    first = phone_logs / "window-30"
    with AgentPhones(asterisk, first, {"agent2": "uas_answer.xml"}) as phones:
        assert_calls_succeeded(await call(asterisk, first, caller_id=IVAN, hold_ms=1500))
    assert phones.rung() == {"agent1": 1, "agent2": 1, "agent3": 1, "agent4": 1}  # ringall
    row = await newest_call(pool)
    assert (row["route"], row["route_reason"]) == ("queue", "window_expired")

    # 120 minutes again: the very next callback rings agent2 alone and sticks.
    await set_window(page, base_url, 120, artifacts)
    second = phone_logs / "window-120"
    with AgentPhones(asterisk, second, {"agent2": "uas_answer.xml"}) as phones:
        assert_calls_succeeded(await call(asterisk, second, caller_id=IVAN, hold_ms=1500))
    assert phones.rung() == {"agent1": 0, "agent2": 1, "agent3": 0, "agent4": 0}
    row = await newest_call(pool)
    assert (row["route"], row["route_reason"], row["outcome"]) == ("sticky", "last_agent", "sticky")
    audited = await pool.fetch(
        "SELECT actor, new_value::text AS new FROM settings_audit "
        "WHERE key = 'window_minutes' ORDER BY id DESC LIMIT 2"
    )
    assert [(r["actor"], r["new"]) for r in audited] == [
        ("admin:chief", "120"),
        ("admin:chief", "30"),
    ]
