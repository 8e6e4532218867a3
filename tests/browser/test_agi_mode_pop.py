"""A call routed by the FastAGI path (no Stasis) still pops: the router's AMI learner hears
Asterisk's Dial() ring the sticky agent, and the screen shows why (the AGI lookup's decision)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, BrowserContext

from devkit.sandbox.asterisk import LocalAsterisk
from devkit.sandbox.stack import Sandbox
from sticky_router.process.agi_process import AgiProcess
from testkit.sipp import assert_calls_succeeded
from tests.browser.conftest import open_screen
from tests.browser.test_agent_screen import POP, pop_latency_ms, text
from tests.e2e.phones import AgentPhones, call

IVAN = "79123456701"

pytestmark = pytest.mark.usefixtures("fresh")


@pytest.fixture
async def agi_server(sandbox: Sandbox, fresh: object) -> AsyncIterator[AgiProcess]:
    async with AgiProcess(sandbox.agi_settings()) as process:
        yield process


async def test_a_call_routed_by_fastagi_pops_on_the_sticky_agents_screen(
    agi_server: AgiProcess,
    chromium: Browser,
    contexts: list[BrowserContext],
    base_url: str,
    asterisk: LocalAsterisk,
    phone_logs: Path,
    artifacts: Path,
) -> None:
    agent2 = await open_screen(chromium, contexts, base_url, "agent2")
    with AgentPhones(
        asterisk, phone_logs, {"agent2": "uas_answer.xml"}, ring_ms={"agent2": 1500}
    ) as phones:
        caller = asyncio.get_running_loop().create_task(
            call(asterisk, phone_logs, caller_id=IVAN, dialled="agi", hold_ms=2000)
        )
        await agent2.wait_for_selector(POP, timeout=20_000)
        latency = await pop_latency_ms(agent2, phones, "agent2", phone_logs)
        print(f"\npop latency, FastAGI sticky call (INVITE at agent2 -> pop): {latency:.0f} ms")
        assert (await text(agent2, '[data-role="why"]')).startswith("You spoke with them 42 min")
        assert await text(agent2, '[data-role="caller-name"]') == "Ivan Petrov"
        await agent2.screenshot(path=str(artifacts / "pop-fastagi-agent2.png"), full_page=True)
        assert_calls_succeeded(await caller)
    assert 0 < latency < 2000
