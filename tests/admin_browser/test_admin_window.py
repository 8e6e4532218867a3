"""A supervisor changes the window of the support queue in the browser, through its own field,
after looking at the predicted effect, and the very next callback obeys it (issues 5 and 22)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import pytest
from playwright.async_api import Page

from devkit.sandbox.asterisk import LocalAsterisk
from sticky_router.process.router import Router
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


async def set_window(
    page: Page, base_url: str, minutes: int, artifacts: Path, *, preview: bool
) -> None:
    """As a supervisor would: pick the support queue from the list, type the minutes into the
    window's own field, look at the prediction first when asked, save."""
    await page.goto(f"{base_url}/admin/settings")
    await page.select_option("#pick-scope select[name=scope]", "queue:support")
    await page.click("#pick-scope button[type=submit]")
    await page.wait_for_selector("#scope-now >> text=queue support")
    window = page.locator("#setting-window_minutes")
    await window.locator("input[name=value]").fill(str(minutes))
    if preview:
        await window.locator("button[value=preview]").click()
        figures = page.locator("#preview-figures")
        await figures.wait_for()
        await page.screenshot(path=str(artifacts / f"settings-preview-{minutes}.png"),
                              full_page=True)  # fmt: skip
        assert "Share reaching their agent" in await figures.inner_text()
        await page.click("#save-previewed button[value=save]")
    else:
        await window.locator("button[value=save]").click()
    await page.wait_for_selector("#saved")
    await page.screenshot(path=str(artifacts / f"settings-window-{minutes}.png"), full_page=True)
    in_force = await page.locator("#setting-window_minutes .in-force").inner_text()
    assert in_force == f"In force: {minutes} minutes (set here)"


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
    await set_window(page, base_url, 30, artifacts, preview=True)
    first = phone_logs / "window-30"
    with AgentPhones(asterisk, first, {"agent2": "uas_answer.xml"}) as phones:
        assert_calls_succeeded(await call(asterisk, first, caller_id=IVAN, hold_ms=1500))
    assert phones.rung() == {"agent1": 1, "agent2": 1, "agent3": 1, "agent4": 1}  # ringall
    row = await newest_call(pool)
    assert (row["route"], row["route_reason"]) == ("queue", "window_expired")

    # 120 minutes again: the very next callback rings agent2 alone and sticks.
    await set_window(page, base_url, 120, artifacts, preview=False)
    second = phone_logs / "window-120"
    with AgentPhones(asterisk, second, {"agent2": "uas_answer.xml"}) as phones:
        assert_calls_succeeded(await call(asterisk, second, caller_id=IVAN, hold_ms=1500))
    assert phones.rung() == {"agent1": 0, "agent2": 1, "agent3": 0, "agent4": 0}
    row = await newest_call(pool)
    assert (row["route"], row["route_reason"], row["outcome"]) == ("sticky", "last_agent", "sticky")
    audited = await pool.fetch(
        "SELECT actor, scope_kind, scope_value, new_value::text AS new FROM settings_audit "
        "WHERE key = 'window_minutes' ORDER BY id DESC LIMIT 2"
    )
    assert [tuple(r) for r in audited] == [
        ("admin:chief", "queue", "support", "120"),
        ("admin:chief", "queue", "support", "30"),
    ]
