"""Admin pages end to end: a real Asterisk 22 (phone ports from 46000) and PostgreSQL, the router
with its web server in this process, SIPp phones, and headless Chromium (Playwright driving the
Debian package's /usr/bin/chromium). The e2e and browser suites' fixtures are reused; they resolve
against this suite's own `sandbox` and `router`."""

from __future__ import annotations

from collections.abc import Iterator

import asyncpg
import pytest
from playwright.async_api import Browser, BrowserContext, Page

from devkit.sandbox.stack import Sandbox, throwaway_sandbox
from sticky_router.web.auth.accounts import add_admin, set_password
from tests.browser.conftest import (  # noqa: F401 - fixtures, resolved against this `sandbox`
    artifacts,
    base_url,
    chromium,
    contexts,
    router,
)
from tests.e2e.conftest import asterisk, fresh, phone_logs, pool, postgres  # noqa: F401

ADMIN, PASSWORD = "chief", "admin-browser-test-password"


@pytest.fixture(scope="package")
def sandbox() -> Iterator[Sandbox]:
    with throwaway_sandbox("admin", phone_ports_from=46000) as stack:
        yield stack


@pytest.fixture
async def admin_page(
    chromium: Browser,  # noqa: F811
    contexts: list[BrowserContext],  # noqa: F811
    base_url: str,  # noqa: F811
    pool: asyncpg.Pool,  # noqa: F811
) -> Page:
    """A page of Chromium signed in to the admin pages as `chief`, on the admin home."""
    if not await pool.fetchval("SELECT true FROM admin_users WHERE name = $1", ADMIN):
        await add_admin(pool, ADMIN, "Chief")
    await set_password(pool, "admin", ADMIN, PASSWORD)
    context = await chromium.new_context(viewport={"width": 1300, "height": 1400})
    contexts.append(context)
    page = await context.new_page()
    await page.goto(f"{base_url}/admin/sign-in")
    await page.fill("input[name=name]", ADMIN)
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url(f"{base_url}/admin/")
    return page
