"""The agent screen on a FreePBX-style line: agent2's pop shows when their phones ring for a
callback, although the router dialled a Local member and Asterisk names only the phones. Real
Asterisk 22 (freepbx flavour), SIPp phones, the router with its pages, headless Chromium."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from playwright.async_api import Browser, BrowserContext

from devkit.sandbox.asterisk import LocalAsterisk
from devkit.sandbox.asterisk_config import PHONES
from sticky_router.process.router import Router
from sticky_router.web.auth.accounts import set_password
from sticky_router.web.settings import WebSettings
from testkit.chromium import free_tcp_port
from testkit.sipp import assert_calls_succeeded
from tests.browser.conftest import PASSWORD, chromium, contexts, open_screen  # noqa: F401
from tests.e2e.phones import AgentPhones, call
from tests.e2e.records import settled
from tests.e2e.replacement import replacing

IVAN = "79123456701"  # the demo: last helped by agent2 42 minutes ago


@pytest.fixture
async def paged_router(fresh: object, router: Router) -> AsyncIterator[str]:
    """A router with its pages in place of the suite's; their address."""
    del fresh
    pages = WebSettings(port=free_tcp_port())
    async with replacing(router, dataclasses.replace(router.settings, web=pages)):
        yield pages.base_url


async def test_agent2s_screen_pops_for_a_callback_that_rings_their_two_phones(
    paged_router: str,
    chromium: Browser,  # noqa: F811
    contexts: list[BrowserContext],  # noqa: F811
    asterisk: LocalAsterisk,
    pool: asyncpg.Pool,
    phone_logs: Path,
) -> None:
    await set_password(pool, "agent", "agent2", PASSWORD)
    screen = await open_screen(chromium, contexts, paged_router, "agent2")
    with AgentPhones(asterisk, phone_logs, {"agent2soft": "uas_answer.xml"}, names=PHONES):
        talking = asyncio.get_running_loop().create_task(
            call(asterisk, phone_logs, caller_id=IVAN, hold_ms=3000)
        )
        await screen.wait_for_selector("article.pop", timeout=15_000)
        shown = await screen.text_content("article.pop") or ""
        assert_calls_succeeded(await talking)
    assert "Ivan Petrov" in shown
    assert "T-1001" in shown
    row = await settled(pool, IVAN)
    pops = await pool.fetch(
        "SELECT a.name FROM agent_pops p JOIN agents a ON a.id = p.agent_id"
        " JOIN interactions i ON i.call_id = p.call_id WHERE i.id = $1",
        row["id"],
    )
    assert [p["name"] for p in pops] == ["agent2"]  # found by the Local member and its phones
