"""A caller on one node reaches their agent logged in on the other (issue 17).

agent2's phone is registered with node A and they are logged in to node A's support queue only;
Ivan, who spoke with agent2 42 minutes ago, calls into node B. Node B's router finds agent2 on
node A (node A's router publishes its queue members) and rings them through the trunk to node
A; what happened is learned as agent2's, so the next call finds them again.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path

import asyncpg
import pytest

from devkit.sandbox.stack import Sandbox
from sticky_router.process.router import Router
from sticky_router.routing_core.settings import Scope
from sticky_router.routing_core.store.settings_store import set_setting
from testkit.sipp import assert_calls_succeeded
from tests.e2e.phones import AgentPhones, call
from tests.e2e.records import agent_channel, legs, settled, until, wait_for_device
from tests.multinode.conftest import published_on_node_a

IVAN = "79123456701"  # last spoke with agent2 42 minutes ago (the demo data)

pytestmark = pytest.mark.usefixtures("fresh")


async def ivan_calls_node_b(
    nodes: dict[str, Sandbox], logs: Path
) -> tuple[dict[str, int], dict[str, int]]:
    """Ivan's call into node B while agent2's phone on node A answers; INVITEs per phone of
    node A, and of node B."""
    node_a, node_b = nodes["node-a"].asterisk, nodes["node-b"].asterisk
    with (
        AgentPhones(node_a, logs / "node-a", {"agent2": "uas_answer.xml"}) as on_a,
        AgentPhones(node_b, logs / "node-b", {}) as on_b,
    ):
        assert_calls_succeeded(await call(node_b, logs, caller_id=IVAN, hold_ms=2000))
        return on_a.rung(), on_b.rung()


@pytest.mark.usefixtures("agent2_works_on_node_a")
async def test_ivan_on_node_b_reaches_agent2_logged_in_on_node_a(
    nodes: dict[str, Sandbox], pool: asyncpg.Pool, tmp_path: Path, fresh: datetime
) -> None:
    rung_on_a, rung_on_b = await ivan_calls_node_b(nodes, tmp_path)
    assert rung_on_a == {"agent1": 0, "agent2": 1, "agent3": 0, "agent4": 0}
    assert sum(rung_on_b.values()) == 0, f"node B rang its own phones: {rung_on_b}"
    recorded = await settled(pool, IVAN)
    assert recorded["call_id"].startswith("node-b-")
    assert (recorded["route"], recorded["route_reason"]) == ("sticky", "last_agent")
    assert recorded["outcome"] == "sticky"  # connected by the sticky attempt
    answered = [leg for leg in await legs(pool, recorded["id"]) if leg["answered_at"]]
    assert [leg["agent"] for leg in answered] == ["agent2"]


@pytest.mark.usefixtures("agent2_works_on_node_a")
async def test_agent2_paused_on_node_a_is_not_rung_from_node_b(
    nodes: dict[str, Sandbox], pool: asyncpg.Pool, tmp_path: Path
) -> None:
    node_a = nodes["node-a"].asterisk
    await asyncio.to_thread(node_a.cli, f"queue pause member {node_a.member('agent2')}")
    await until(lambda: published_on_node_a(pool, paused=True), 5)
    rung_on_a, _ = await ivan_calls_node_b(nodes, tmp_path)
    assert rung_on_a["agent2"] == 0
    recorded = await settled(pool, IVAN)
    assert (recorded["route"], recorded["outcome"], recorded["outcome_reason"]) == (
        "sticky", "queue", "paused",
    )  # fmt: skip


@pytest.mark.usefixtures("agent2_works_on_node_a")
async def test_without_node_as_router_node_b_does_not_ring_node_as_agents(
    nodes: dict[str, Sandbox], routers: dict[str, Router], pool: asyncpg.Pool, tmp_path: Path
) -> None:
    """Node A's router stopped: what it last published no longer counts (nobody would know
    whether agent2 is still free), so Ivan goes to node B's queue."""
    router_a = routers["node-a"]
    await router_a.stop()
    try:
        rung_on_a, _ = await ivan_calls_node_b(nodes, tmp_path)
        assert rung_on_a["agent2"] == 0
        recorded = await settled(pool, IVAN)
        assert (recorded["route"], recorded["outcome"], recorded["outcome_reason"]) == (
            "sticky", "queue", "offline",
        )  # fmt: skip
    finally:
        await router_a.start()
        await router_a.wait_connected(10)


@pytest.mark.usefixtures("agent2_works_on_node_a")
async def test_ivan_calling_both_nodes_at_once_claims_agent2_once(
    nodes: dict[str, Sandbox], pool: asyncpg.Pool, tmp_path: Path
) -> None:
    """Two routers decide for agent2 at the same moment, one on each node: the claim in
    PostgreSQL gives agent2 to one call; the other goes to its node's queue."""
    node_a, node_b = nodes["node-a"].asterisk, nodes["node-b"].asterisk
    phones_a = AgentPhones(node_a, tmp_path / "node-a", {"agent2": "uas_answer.xml"},
                           ring_ms={"agent2": 2500})  # fmt: skip
    with phones_a, AgentPhones(node_b, tmp_path / "node-b", {}):
        placed = await asyncio.gather(
            call(node_a, tmp_path / "on-a", caller_id=IVAN, hold_ms=1000),
            call(node_b, tmp_path / "on-b", caller_id=IVAN, hold_ms=1000),
        )
        for result in placed:
            assert_calls_succeeded(result)
    # Not a count of agent2's INVITEs: the loser's queue (ringall) may ring agent2 too, and
    # whether it does depends on which node won (CI once saw node B win, and two INVITEs).
    rows = await pool.fetch(
        "SELECT call_id, route, route_reason, outcome FROM interactions"
        " WHERE caller_number = $1 AND call_id NOT LIKE 'demo-%' ORDER BY route",
        "+" + IVAN,
    )
    assert len(rows) == 2
    assert {row["call_id"].split("-")[1] for row in rows} == {"a", "b"}
    assert [(row["route"], row["route_reason"]) for row in rows] == [
        ("queue", "busy"), ("sticky", "last_agent"),
    ]  # fmt: skip


@pytest.mark.usefixtures("agent2_works_on_node_a")
async def test_ivan_on_node_b_waits_for_agent2_busy_on_node_a_and_reaches_them(
    nodes: dict[str, Sandbox], pool: asyncpg.Pool, tmp_path: Path
) -> None:
    """With a busy wait, an agent on another node is waited for too: no device event of node A
    reaches node B's router, so it reads what node A's router publishes again (every 0.5 s)."""
    await set_setting(pool, scope=Scope.GLOBAL, scope_value=None, key="busy_wait_seconds",
                      value=12, actor="e2e")  # fmt: skip
    node_a, node_b = nodes["node-a"].asterisk, nodes["node-b"].asterisk
    with (
        AgentPhones(node_a, tmp_path / "node-a", {"agent2": "uas_answer.xml"}) as on_a,
        AgentPhones(node_b, tmp_path / "node-b", {}) as on_b,
    ):
        await asyncio.to_thread(node_a.cli, "channel originate PJSIP/agent2 application Wait 60")
        await wait_for_device(node_a, "PJSIP/agent2", "INUSE", "BUSY")
        caller = asyncio.create_task(call(node_b, tmp_path, caller_id=IVAN, hold_ms=1500))
        await asyncio.sleep(2.5)  # node B's router is waiting for agent2 now
        assert on_a.rung()["agent2"] == 1  # only the other call
        await asyncio.to_thread(
            node_a.cli, f"channel request hangup {await agent_channel(node_a, 'agent2')}"
        )
        assert_calls_succeeded(await caller)
        assert sum(on_b.rung().values()) == 0
    other_call_ended = on_a.requests("agent2", "BYE")[0].at
    rung_again = on_a.requests("agent2")[1].at
    assert 0 <= (rung_again - other_call_ended).total_seconds() < 1.5
    recorded = await settled(pool, IVAN)
    assert (recorded["route"], recorded["outcome"]) == ("sticky", "sticky")
