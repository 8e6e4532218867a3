"""A line of two nodes in FastAGI mode only (issue 17): no ARI router anywhere, a FastAGI server
per node with AMI and STICKY_NODE. Node A's server publishes node A's queue members; node B's
lookup finds agent2 there and its dialplan rings them through the trunk to node A.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path

import asyncpg
import pytest

from devkit.sandbox.stack import Sandbox
from sticky_router.ami.connection import AmiSettings
from sticky_router.process.agi_process import AgiProcess
from sticky_router.process.router import Router
from testkit.sipp import assert_calls_succeeded
from tests.e2e.phones import AgentPhones, call
from tests.e2e.records import legs, settled, until
from tests.multinode.conftest import published_on_node_a
from tests.multinode.test_calls_across_nodes import IVAN


@pytest.fixture
async def agi_only(
    nodes: dict[str, Sandbox], routers: dict[str, Router], fresh: datetime
) -> AsyncIterator[dict[str, AgiProcess]]:
    """The routers stopped (their nodes leave), a FastAGI server per node in their place."""
    for router in routers.values():
        await router.stop()
    async with contextlib.AsyncExitStack() as stack:
        servers = {}
        for name, node in nodes.items():
            ami = node.asterisk.ami_credentials
            settings = dataclasses.replace(
                node.agi_settings(),
                ami=AmiSettings("127.0.0.1", node.asterisk.ami_port, ami.user, ami.password),
            )
            servers[name] = await stack.enter_async_context(AgiProcess(settings))
        try:
            yield servers
        finally:
            for server in servers.values():
                assert await server.quiesce(10), "a FastAGI server's journal did not drain"
    for router in routers.values():
        await router.start()
        await router.wait_connected(10)


async def test_agi_only_ivan_on_node_b_reaches_agent2_logged_in_on_node_a(
    nodes: dict[str, Sandbox],
    agi_only: dict[str, AgiProcess],
    pool: asyncpg.Pool,
    tmp_path: Path,
) -> None:
    await asyncio.to_thread(nodes["node-b"].asterisk.log_out_agent, "agent2")
    await until(lambda: published_on_node_a(pool, paused=False), 5)
    node_a, node_b = nodes["node-a"].asterisk, nodes["node-b"].asterisk
    with (
        AgentPhones(node_a, tmp_path / "node-a", {"agent2": "uas_answer.xml"}) as on_a,
        AgentPhones(node_b, tmp_path / "node-b", {}) as on_b,
    ):
        result = await call(node_b, tmp_path, caller_id=IVAN, dialled="agi", hold_ms=2000)
        assert_calls_succeeded(result)
    assert on_a.rung() == {"agent1": 0, "agent2": 1, "agent3": 0, "agent4": 0}
    assert sum(on_b.rung().values()) == 0, f"node B rang its own phones: {on_b.rung()}"
    for server in agi_only.values():
        assert await server.quiesce(10)
    recorded = await settled(pool, IVAN)
    assert recorded["call_id"].startswith("node-b-")
    assert (recorded["route"], recorded["outcome"]) == ("sticky", "sticky")
    answered = [leg["agent"] for leg in await legs(pool, recorded["id"]) if leg["answered_at"]]
    assert answered == ["agent2"]


async def test_agi_only_a_stopped_node_a_means_node_bs_queue(
    nodes: dict[str, Sandbox],
    agi_only: dict[str, AgiProcess],
    pool: asyncpg.Pool,
    tmp_path: Path,
) -> None:
    """Node A's FastAGI server stops: it leaves at once, and agent2 counts as offline."""
    await asyncio.to_thread(nodes["node-b"].asterisk.log_out_agent, "agent2")
    await until(lambda: published_on_node_a(pool, paused=False), 5)
    await agi_only["node-a"].stop()
    node_a, node_b = nodes["node-a"].asterisk, nodes["node-b"].asterisk
    with (
        AgentPhones(node_a, tmp_path / "node-a", {"agent2": "uas_answer.xml"}) as on_a,
        AgentPhones(node_b, tmp_path / "node-b", {"agent1": "uas_answer.xml"}),
    ):
        result = await call(node_b, tmp_path, caller_id=IVAN, dialled="agi", hold_ms=2000)
        assert_calls_succeeded(result)
    assert on_a.rung()["agent2"] == 0
    assert await agi_only["node-b"].quiesce(10)
    recorded = await settled(pool, IVAN)
    assert (recorded["route"], recorded["outcome"], recorded["outcome_reason"]) == (
        "sticky",
        "queue",
        "offline",
    )
