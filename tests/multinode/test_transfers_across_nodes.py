"""A sticky call that crossed to another node, then transferred there (issue 17): Ivan calls node
B, agent2 answers on node A through the trunk and hands him on to agent3 on node A.

The caller must stay: the transfer happens on node A between the trunk's channel and agent3,
and node B's side of the call (Ivan and the trunk) is untouched. Node A's router learns the
handover as Ivan's call on node B: node B's sticky-far-leg names the call and agent2's leg in
the INVITE, node A's sticky-from-nodes tells AMI, and the learner renames node A's channels.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import pytest

from devkit.sandbox.stack import Sandbox
from sticky_router.routing_core.settings import Scope
from sticky_router.routing_core.store.settings_store import set_setting
from testkit.sipp import assert_calls_succeeded
from testkit.waiting import eventually
from tests.e2e.phones import AgentPhones, call, requests_received
from tests.e2e.records import legs, settled
from tests.multinode.test_calls_across_nodes import IVAN

pytestmark = pytest.mark.usefixtures("fresh", "agent2_works_on_node_a")


async def agent2_on_node_a_hands_ivan_to_agent3(
    nodes: dict[str, Sandbox], pool: asyncpg.Pool, logs: Path, dialled: str = "74950000000"
) -> None:
    """Ivan's call into node B (`dialled`: the router's number, or `agi`), agent2 on node A
    answering and sending REFER to agent3 on node A, who answers; Ivan hangs up 6 s after his
    answer, and his hangup reaches agent3. The phones' logs go to `logs`."""
    await set_setting(
        pool, scope=Scope.GLOBAL, scope_value=None, key="min_talk_seconds", value=1,
        actor="multinode",
    )  # fmt: skip
    node_a, node_b = nodes["node-a"].asterisk, nodes["node-b"].asterisk
    refer_to = ["-key", "refer_to", f"sip:agent3@127.0.0.1:{node_a.sip_port}"]
    scenarios = {"agent2": "uas_blind_transfer.xml", "agent3": "uas_answer.xml"}
    with (
        AgentPhones(node_a, logs / "node-a", scenarios, extra_args={"agent2": refer_to}) as a,
        AgentPhones(node_b, logs / "node-b", {}) as b,
    ):
        # The caller's scenario fails on any BYE it did not send itself.
        result = await call(node_b, logs, caller_id=IVAN, dialled=dialled, hold_ms=6000)
        assert_calls_succeeded(result)
        await asyncio.sleep(0.3)
        assert a.rung() == {"agent1": 0, "agent2": 1, "agent3": 1, "agent4": 0}
        assert a.requests("agent3", "CANCEL") == []
        assert len(a.requests("agent3", "BYE")) == 1  # Ivan's hangup reached agent3
        assert sum(b.rung().values()) == 0


@pytest.fixture
async def transferred(nodes: dict[str, Sandbox], pool: asyncpg.Pool, tmp_path: Path) -> Path:
    """The handover above, through node B's router; the phones' log directory."""
    await agent2_on_node_a_hands_ivan_to_agent3(nodes, pool, tmp_path)
    return tmp_path


async def test_ivan_stays_with_agent3_after_agent2_on_node_a_transfers_him(
    transferred: Path, pool: asyncpg.Pool
) -> None:
    caller_received = requests_received(transferred / "caller.messages.log")
    assert [r.method for r in caller_received if r.method == "BYE"] == []
    row = await settled(pool, IVAN)
    assert (row["route"], row["outcome"], row["hangup_side"]) == ("sticky", "sticky", "caller")
    answered = [leg["agent"] for leg in await legs(pool, row["id"]) if leg["answered_at"]]
    assert answered[0] == "agent2"


async def test_the_handover_to_agent3_on_node_a_is_learned_as_ivans(
    transferred: Path, pool: asyncpg.Pool
) -> None:
    row = await settled(pool, IVAN)
    by_agent = {leg["agent"]: leg for leg in await legs(pool, row["id"])}
    assert set(by_agent) == {"agent2", "agent3"}
    assert by_agent["agent3"]["transferred_from_leg_id"] == by_agent["agent2"]["leg_id"]


async def test_a_trunk_call_that_names_no_call_still_rings_the_agent(
    nodes: dict[str, Sandbox], tmp_path: Path
) -> None:
    """An INVITE through the trunk without the headers (a node older than the dialplan, a call
    node B's own dialplan makes): node A reads no ids, tells AMI nothing, and rings agent2."""
    node_a, node_b = nodes["node-a"].asterisk, nodes["node-b"].asterisk
    with AgentPhones(node_a, tmp_path / "node-a", {"agent2": "uas_answer.xml"}) as a:
        await asyncio.to_thread(
            node_b.cli, "channel originate PJSIP/agent2@node-a application Wait 2"
        )

        async def agent2_answered() -> bool:
            return len(a.requests("agent2", "ACK")) == 1

        await eventually(agent2_answered, 10)
    assert a.rung() == {"agent1": 0, "agent2": 1, "agent3": 0, "agent4": 0}
