"""Every call id names its node, and a router told the wrong node says so (issue 17)."""

from __future__ import annotations

from pathlib import Path

import asyncpg
import pytest
from structlog.testing import capture_logs

from devkit.sandbox.stack import Sandbox
from sticky_router.ari_app.client import AriClient
from sticky_router.process.node_presence import check_node
from sticky_router.process.router import Router
from sticky_router.routing_core.settings import Scope
from sticky_router.routing_core.store.settings_store import set_setting
from testkit.sipp import assert_calls_succeeded
from tests.e2e.phones import AgentPhones, call
from tests.e2e.records import settled

OLGA = "79123456702"  # her last call went to specialist agent3 (the demo data)
IVAN = "79123456701"  # last spoke with agent2 42 minutes ago

pytestmark = pytest.mark.usefixtures("fresh")


async def test_each_nodes_call_ids_start_with_its_name(
    nodes: dict[str, Sandbox], pool: asyncpg.Pool, tmp_path: Path
) -> None:
    """Asterisk starts each Uniqueid with its systemname: two nodes started in the same second
    would otherwise both call their first call `<start time>.0`, and the two would merge."""
    for name, number in (("node-a", OLGA), ("node-b", IVAN)):
        node = nodes[name].asterisk
        with AgentPhones(node, tmp_path / name, {"agent2": "uas_answer.xml",
                                                  "agent3": "uas_answer.xml"}):  # fmt: skip
            assert_calls_succeeded(await call(node, tmp_path / name, caller_id=number))
        assert (await settled(pool, number))["call_id"].startswith(f"{name}-")


async def test_a_router_told_another_node_than_its_asterisk_says_so(
    nodes: dict[str, Sandbox],
) -> None:
    node_a = nodes["node-a"].asterisk
    ari = node_a.ari_credentials
    async with AriClient(f"http://127.0.0.1:{node_a.http_port}", ari.user, ari.password,
                         "sticky-router-check") as client:  # fmt: skip
        with capture_logs() as right:
            assert await check_node(client, "node-a") is True
        with capture_logs() as wrong:
            assert await check_node(client, "node-b") is False
    assert [entry for entry in right if entry["log_level"] != "debug"] == []
    [said] = [entry for entry in wrong if entry["event"] == "node_mismatch"]
    assert (said["log_level"], said["node"], said["systemname"]) == ("error", "node-b", "node-a")


async def test_a_setting_changed_once_holds_on_every_node_at_once(
    nodes: dict[str, Sandbox], pool: asyncpg.Pool, tmp_path: Path
) -> None:
    """Settings are read from PostgreSQL with each decision: no router keeps its own copy."""
    await set_setting(pool, scope=Scope.GLOBAL, scope_value=None, key="window_minutes",
                      value=30, actor="test")  # fmt: skip
    node_b = nodes["node-b"].asterisk
    with AgentPhones(node_b, tmp_path, {"agent2": "uas_answer.xml"}):
        assert_calls_succeeded(await call(node_b, tmp_path, caller_id=IVAN))
    recorded = await settled(pool, IVAN)
    assert (recorded["route"], recorded["route_reason"]) == ("queue", "window_expired")


async def test_the_routers_say_their_node_identity_in_their_metrics(
    routers: dict[str, Router],
) -> None:
    for name, router in routers.items():
        exposed = router.metrics.exposition()[0].decode()
        assert f'sticky_router_node_identity{{node="{name}"}} 1.0' in exposed
