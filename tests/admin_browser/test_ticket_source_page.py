"""The ticket source's health page in headless Chromium: reached from the admin navigation, it
says the built-in tables need no sync, then shows a row an earlier source left behind as failing
and no longer in use (the screenshot is in artifacts/browser/ticket-source-failing.png)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest
from playwright.async_api import Page

from sticky_router.process.router import Router

CLEAR = "TRUNCATE ticket_mirror, ticket_source_state, ticket_call_reports"


@pytest.fixture
async def no_source_rows(pool: asyncpg.Pool) -> AsyncIterator[None]:
    await pool.execute(CLEAR)
    yield
    await pool.execute(CLEAR)


async def check_the_state_lines(
    page: Page, base_url: str, pool: asyncpg.Pool, artifacts: Path
) -> None:
    """From the admin home through the navigation: built-in first, then a failing source that
    this router (built-in tables) no longer uses."""
    await page.click(".admin-nav a[href='/admin/ticket-source']")
    await page.wait_for_url(f"{base_url}/admin/ticket-source")
    builtin = page.locator(".source-state[data-state=builtin]")
    assert "nothing to sync" in await builtin.inner_text()

    now = datetime.now(UTC)
    await pool.execute(
        "INSERT INTO ticket_source_state (source, last_sync_at, last_error, last_error_at,"
        " failures_in_a_row) VALUES ('crm', $1, $2, $3, 3)",
        now - timedelta(hours=2),
        "unavailable: <b>tickets</b>: HTTP 503",
        now,
    )
    await page.reload()
    section = page.locator(".ticket-source[data-source=crm]")
    state = section.locator(".source-state")
    assert await state.get_attribute("data-state") == "failing"
    line = await state.inner_text()
    assert line.startswith("Failing since the last good sync"), line
    assert line.endswith("3 failures in a row."), line
    error = await section.locator("tr[data-fact=last-error] td").inner_text()
    assert error.startswith("unavailable: <b>tickets</b>: HTTP 503"), error  # text, not markup
    assert await page.locator(".source-state[data-state=builtin]").count() == 1
    assert await section.get_attribute("data-in-use") == "no"
    assert "Not in use" in await section.locator(".not-in-use").inner_text()
    await page.screenshot(path=str(artifacts / "ticket-source-failing.png"), full_page=True)


async def test_the_page_shows_built_in_then_failing_in_chromium(
    router: Router,
    admin_page: Page,
    base_url: str,
    pool: asyncpg.Pool,
    artifacts: Path,
    no_source_rows: None,
) -> None:
    await check_the_state_lines(admin_page, base_url, pool, artifacts)
