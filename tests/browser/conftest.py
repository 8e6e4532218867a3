"""The agent screen end to end: a real Asterisk 22 and PostgreSQL (the sandbox's throwaway parts,
phone ports from 44000), the router with its web server in this process, SIPp phones, and
headless Chromium driven by Playwright (the Debian package's /usr/bin/chromium; nothing is
downloaded).

The e2e suite's fixtures are reused: `fresh` (demo data loaded now, Asterisk quiet) and friends
resolve against this suite's own `sandbox` and `router`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest
from playwright.async_api import Browser, BrowserContext, Page, async_playwright

from devkit.sandbox.stack import Sandbox, throwaway_sandbox
from sticky_router.process.router import Router
from sticky_router.web.auth.accounts import set_password
from sticky_router.web.settings import WebSettings
from testkit.chromium import CHROMIUM, CHROMIUM_ARGS, free_tcp_port
from tests.e2e.conftest import asterisk, fresh, phone_logs, pool, postgres, prompts  # noqa: F401

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "browser"
PASSWORD = "screen-test-password"


@pytest.fixture(scope="package")
def sandbox() -> Iterator[Sandbox]:
    with throwaway_sandbox("browser", phone_ports_from=44000) as stack:
        yield stack


@pytest.fixture(scope="package")
async def router(sandbox: Sandbox) -> AsyncIterator[Router]:
    web = WebSettings(port=free_tcp_port())
    router = Router(dataclasses.replace(sandbox.router_settings(), web=web))
    await router.start()
    await router.wait_connected(10)
    assert router.web is not None, "the web server did not start"
    yield router
    await router.stop()


@pytest.fixture(scope="package")
def base_url(router: Router) -> str:
    assert router.settings.web is not None
    return router.settings.web.base_url


@pytest.fixture(autouse=True)
async def passwords(fresh: object, pool: asyncpg.Pool) -> None:  # noqa: F811
    """`fresh` reloaded the demo agents: give them the test password."""
    for agent in ("agent1", "agent2", "agent3", "agent4"):
        await set_password(pool, "agent", agent, PASSWORD)


@pytest.fixture(scope="package")
async def chromium() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        yield browser
        await browser.close()


@pytest.fixture
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture
async def contexts(chromium: Browser) -> AsyncIterator[list[BrowserContext]]:
    """Browser contexts (separate cookie jars: one per agent) closed after the test."""
    opened: list[BrowserContext] = []
    yield opened
    for context in opened:
        await context.close()


async def open_screen(
    chromium: Browser, contexts: list[BrowserContext], base_url: str, agent: str
) -> Page:
    """Sign `agent` in through the sign-in form; returns their agent page, connected."""
    context = await chromium.new_context(viewport={"width": 1280, "height": 900})
    contexts.append(context)
    page = await context.new_page()
    await page.goto(f"{base_url}/agent/sign-in")
    await page.fill('input[name="name"]', agent)
    await page.fill('input[name="password"]', PASSWORD)
    await page.click('button[type="submit"]')
    await page.wait_for_url(f"{base_url}/agent/")
    await page.wait_for_selector('#link-state[data-state="up"]', timeout=10_000)
    return page
