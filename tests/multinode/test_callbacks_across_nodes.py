"""A callback agent2 owes is dialled by the node they are logged in on, and only once (issue 17).

The callback is a row in PostgreSQL; each router's dialer rings an agent its own node's queue
shows free, and takes the row atomically before dialling it. So the router of agent2's node
dials it, whichever node the caller had called, and two routers that both see agent2 free never
dial it twice.
"""

from __future__ import annotations

import asyncio
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest

from devkit.sandbox.stack import Sandbox
from testkit.sipp import SippPhone
from tests.e2e.phones import AgentPhones
from tests.e2e.records import until
from tests.e2e.test_callback import callback_done, offer_callbacks, owe_ivan_a_callback

pytestmark = pytest.mark.usefixtures("fresh")


async def callback_rings(
    nodes: dict[str, Sandbox], pool: asyncpg.Pool, logs: Path
) -> dict[str, int]:
    """agent2 owes Ivan a callback; agent2's phones answer, and so does Ivan's phone on each
    node's trunk side: until the callback is done. INVITEs agent2's phone got, per node."""
    await offer_callbacks(pool)
    await owe_ivan_a_callback(pool, datetime.now(UTC) - timedelta(minutes=1))
    with ExitStack() as phones:
        agent2 = {
            name: phones.enter_context(
                AgentPhones(node.asterisk, logs / name, {"agent2": "uas_answer.xml"})
            )
            for name, node in nodes.items()
        }
        for name, node in nodes.items():
            ivan = SippPhone.agent(
                "uas_answer_hangup.xml",
                node.asterisk.caller_port,
                logs / name,
                ring_ms=500,
                name="ivan-called",
            )
            phones.callback(ivan.start().stop)
        await until(lambda: callback_done(pool), 30)
        await asyncio.sleep(3)  # a second dial, by either router, would be ringing by now
        return {name: phones_of_node.rung()["agent2"] for name, phones_of_node in agent2.items()}


async def test_agent2s_node_dials_the_callback(
    nodes: dict[str, Sandbox], pool: asyncpg.Pool, tmp_path: Path
) -> None:
    await asyncio.to_thread(nodes["node-b"].asterisk.log_out_agent, "agent2")
    assert await callback_rings(nodes, pool, tmp_path) == {"node-a": 1, "node-b": 0}


async def test_agent2_free_on_both_nodes_is_rung_for_the_callback_once(
    nodes: dict[str, Sandbox], pool: asyncpg.Pool, tmp_path: Path
) -> None:
    rings = await callback_rings(nodes, pool, tmp_path)
    assert sum(rings.values()) == 1, rings
    attempts = await pool.fetchval("SELECT attempts FROM callbacks")
    assert attempts == 1
