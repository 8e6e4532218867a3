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
from tests.multinode.test_transfers_across_nodes import agent2_on_node_a_hands_ivan_to_agent3


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


@pytest.fixture
async def agent2_on_node_a_only(
    nodes: dict[str, Sandbox], agi_only: dict[str, AgiProcess], pool: asyncpg.Pool
) -> None:
    """agent2 logged in on node A only, and node A's FastAGI server has published it."""
    await asyncio.to_thread(nodes["node-b"].asterisk.log_out_agent, "agent2")
    await until(lambda: published_on_node_a(pool, paused=False), 5)


async def ivan_calls_node_bs_agi_number(
    nodes: dict[str, Sandbox], logs: Path, node_b_phones: dict[str, str]
) -> tuple[dict[str, int], dict[str, int]]:
    """Ivan's call into node B's FastAGI number while agent2's phone on node A answers; the
    INVITEs per phone of node A, and of node B (whose phones answer as `node_b_phones` say)."""
    node_a, node_b = nodes["node-a"].asterisk, nodes["node-b"].asterisk
    with (
        AgentPhones(node_a, logs / "node-a", {"agent2": "uas_answer.xml"}) as on_a,
        AgentPhones(node_b, logs / "node-b", node_b_phones) as on_b,
    ):
        result = await call(node_b, logs, caller_id=IVAN, dialled="agi", hold_ms=2000)
        assert_calls_succeeded(result)
        return on_a.rung(), on_b.rung()


@pytest.mark.usefixtures("agent2_on_node_a_only")
async def test_agi_only_ivan_on_node_b_reaches_agent2_logged_in_on_node_a(
    nodes: dict[str, Sandbox],
    agi_only: dict[str, AgiProcess],
    pool: asyncpg.Pool,
    tmp_path: Path,
) -> None:
    rung_on_a, rung_on_b = await ivan_calls_node_bs_agi_number(nodes, tmp_path, {})
    assert rung_on_a == {"agent1": 0, "agent2": 1, "agent3": 0, "agent4": 0}
    assert sum(rung_on_b.values()) == 0, f"node B rang its own phones: {rung_on_b}"
    for server in agi_only.values():
        assert await server.quiesce(10)
    recorded = await settled(pool, IVAN)
    assert recorded["call_id"].startswith("node-b-")
    assert (recorded["route"], recorded["outcome"]) == ("sticky", "sticky")
    answered = [leg["agent"] for leg in await legs(pool, recorded["id"]) if leg["answered_at"]]
    assert answered == ["agent2"]


@pytest.mark.usefixtures("agent2_on_node_a_only")
async def test_agi_only_a_stopped_node_a_means_node_bs_queue(
    nodes: dict[str, Sandbox],
    agi_only: dict[str, AgiProcess],
    pool: asyncpg.Pool,
    tmp_path: Path,
) -> None:
    """Node A's FastAGI server stops: it leaves at once, and agent2 counts as offline."""
    await agi_only["node-a"].stop()
    rung_on_a, _ = await ivan_calls_node_bs_agi_number(
        nodes, tmp_path, {"agent1": "uas_answer.xml"}
    )
    assert rung_on_a["agent2"] == 0
    assert await agi_only["node-b"].quiesce(10)
    recorded = await settled(pool, IVAN)
    assert (recorded["route"], recorded["outcome"], recorded["outcome_reason"]) == (
        "sticky",
        "queue",
        "offline",
    )


@pytest.mark.usefixtures("agent2_on_node_a_only")
async def test_agi_only_a_transfer_on_node_a_is_learned_as_ivans_call(
    nodes: dict[str, Sandbox],
    agi_only: dict[str, AgiProcess],
    pool: asyncpg.Pool,
    tmp_path: Path,
) -> None:
    """agent2 on node A hands Ivan (who called node B's FastAGI number) to agent3 on node A:
    node B's pre-dial hook names the call and agent2's leg in the INVITE, and node A's FastAGI
    server learns the handover as Ivan's."""
    await agent2_on_node_a_hands_ivan_to_agent3(nodes, pool, tmp_path, dialled="agi")
    for server in agi_only.values():
        assert await server.quiesce(10)
    row = await settled(pool, IVAN)
    by_agent = {leg["agent"]: leg for leg in await legs(pool, row["id"])}
    assert set(by_agent) == {"agent2", "agent3"}
    assert by_agent["agent3"]["transferred_from_leg_id"] == by_agent["agent2"]["leg_id"]
