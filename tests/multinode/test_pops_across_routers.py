"""An agent's pop reaches their screen whichever router serves their browser.

Two routers behind a load balancer serve the agent pages; the router that handles a call is the
one on the caller's node. Before issue 17 a pop went only to browsers of the router that made it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from devkit.sandbox.stack import Sandbox
from sticky_router.process.router import Router
from testkit.sipp import assert_calls_succeeded
from tests.e2e.phones import AgentPhones, call
from tests.e2e.records import interaction
from tests.multinode.conftest import PASSWORD
from tests.web.conftest import Browser

IVAN = "79123456701"  # last spoke with agent2 42 minutes ago (the demo data)


@pytest.fixture
async def agent2_on_router_a(
    routers: dict[str, Router], fresh: datetime
) -> AsyncIterator[aiohttp.ClientWebSocketResponse]:
    """agent2's screen, served by node A's router."""
    web = routers["node-a"].settings.web
    assert web is not None
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
        browser = Browser(session, web.base_url)
        assert await browser.sign_in("agent", "agent2", PASSWORD) == 303
        socket = await browser.socket()
        yield socket
        await socket.close()


async def next_pop(socket: aiohttp.ClientWebSocketResponse, wait: float) -> dict[str, Any]:
    async with asyncio.timeout(wait):
        while True:
            message = await socket.receive_json()
            if message["type"] == "pop":
                return message["pop"]  # type: ignore[no-any-return]


async def test_a_call_on_node_b_pops_on_agent2s_screen_served_by_router_a(
    nodes: dict[str, Sandbox],
    agent2_on_router_a: aiohttp.ClientWebSocketResponse,
    pool: Any,
    tmp_path: Path,
) -> None:
    node_b = nodes["node-b"].asterisk
    with AgentPhones(node_b, tmp_path, {"agent2": "uas_answer.xml"}) as phones:
        ringing = asyncio.create_task(call(node_b, tmp_path, caller_id=IVAN, hold_ms=3000))
        try:
            pop = await next_pop(agent2_on_router_a, wait=8)
        finally:
            assert_calls_succeeded(await ringing)
        assert phones.rung()["agent2"] == 1
    recorded = await interaction(pool, IVAN)
    assert recorded["route"] == "sticky"
    assert pop["call_id"] == recorded["call_id"]
    assert pop["why"]["code"] == "last_agent"
    assert pop["caller"]["name"] == "Ivan Petrov"
