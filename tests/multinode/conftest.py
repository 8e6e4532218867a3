"""Two Asterisk nodes of one support line, a router per node, one PostgreSQL (issue 17).

Each node is the sandbox's Asterisk in its own chroot process with its own ports and
`systemname` (node-a, node-b: every Uniqueid starts with it), the same agents and queues, and its
own SIPp phones (ports from 42000, one block per node). Each router runs in this process with
its own web server, as two router hosts behind one load balancer would: an agent's browser may
be served by either.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime

import asyncpg
import pytest

from devkit.demo import seed_demo
from devkit.sandbox.stack import Sandbox, throwaway_nodes
from sticky_router.process import database
from sticky_router.process.router import Router
from sticky_router.web.auth.accounts import set_password
from sticky_router.web.settings import WebSettings
from testkit.chromium import free_tcp_port
from tests.e2e.conftest import quiet
from tests.e2e.records import until

PASSWORD = "two-node-test-password"


@pytest.fixture(scope="package")
def nodes() -> Iterator[dict[str, Sandbox]]:
    with throwaway_nodes("multinode", phone_ports_from=42000) as started:
        yield {node.asterisk.system_name: node for node in started}


@pytest.fixture(scope="package")
async def pool(nodes: dict[str, Sandbox]) -> AsyncIterator[asyncpg.Pool]:
    pool = await database.create_pool(nodes["node-a"].postgres.dsn, size=4)
    yield pool
    await pool.close()


@pytest.fixture(scope="package")
async def routers(nodes: dict[str, Sandbox]) -> AsyncIterator[dict[str, Router]]:
    started: dict[str, Router] = {}
    try:
        for name, node in nodes.items():
            web = WebSettings(port=free_tcp_port())
            router = Router(dataclasses.replace(node.router_settings(), web=web))
            started[name] = router
            await router.start()
            await router.wait_connected(10)
            assert router.web is not None, f"{name}'s router has no web server"
        yield started
    finally:
        for router in started.values():
            await router.stop()


@pytest.fixture
async def fresh(
    nodes: dict[str, Sandbox], routers: dict[str, Router], pool: asyncpg.Pool
) -> AsyncIterator[datetime]:
    """Demo data loaded now (agents with the test password), both nodes quiet."""
    for name, router in routers.items():
        await quiet(nodes[name].asterisk)
        assert await router.quiesce(10), f"{name}'s journal did not drain"
    moment = datetime.now(UTC)
    await seed_demo(pool, moment, reset=True)
    for agent in ("agent1", "agent2", "agent3", "agent4"):
        await set_password(pool, "agent", agent, PASSWORD)
    yield moment
    for node in nodes.values():
        await quiet(node.asterisk)


@pytest.fixture
async def agent2_works_on_node_a(
    nodes: dict[str, Sandbox], pool: asyncpg.Pool, fresh: datetime
) -> None:
    """agent2 logged in on node A only, and node B's router already knows it."""
    await asyncio.to_thread(nodes["node-b"].asterisk.log_out_agent, "agent2")
    await until(lambda: published_on_node_a(pool, paused=False), 5)


async def published_on_node_a(pool: asyncpg.Pool, *, paused: bool) -> bool:
    """Node A's router has published agent2 as its member (paused or not), and is alive."""
    found = await pool.fetchval(
        "SELECT count(*) FROM node_members m JOIN cluster_nodes n ON n.name = m.node"
        " WHERE m.interface = 'PJSIP/agent2' AND m.node = 'node-a' AND m.paused = $1"
        " AND n.alive_at > now() - interval '5 seconds'",
        paused,
    )
    return bool(found)
