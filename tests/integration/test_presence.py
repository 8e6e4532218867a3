"""Which queue members each node has, shared through PostgreSQL (issue 17), on a real cluster:
what one node publishes, another node finds; its own node, a stale node and another queue
count for nothing."""

from __future__ import annotations

from datetime import UTC, datetime

import asyncpg
import pytest

from devkit.demo import seed_demo
from sticky_router.routing_core.live import MemberFacts
from sticky_router.routing_core.store import presence

pytestmark = pytest.mark.integration

AGENT2 = MemberFacts("support", "PJSIP/agent2", "NOT_INUSE", paused=False)
AGENT3 = MemberFacts("second-line", "PJSIP/agent3", "INUSE", paused=True)


@pytest.fixture
async def clean(pool: asyncpg.Pool) -> asyncpg.Pool:
    await pool.execute("DELETE FROM cluster_nodes")
    return pool


async def test_what_node_a_publishes_node_b_finds(clean: asyncpg.Pool) -> None:
    async with clean.acquire() as connection:
        await presence.publish(connection, "node-a", [AGENT2, AGENT3])
    found = await presence.members_elsewhere(clean, "pjsip/AGENT2", "support", "node-b")
    assert [(f.node, f.facts) for f in found] == [("node-a", AGENT2)]
    assert await presence.members_elsewhere(clean, "PJSIP/agent2", "support", "node-a") == []
    assert await presence.members_elsewhere(clean, "PJSIP/agent2", "sales", "node-b") == []
    third = await presence.members_elsewhere(clean, "PJSIP/agent3", "second-line", "node-b")
    assert [f.facts for f in third] == [AGENT3]


async def test_a_new_board_replaces_the_old_one_whole(clean: asyncpg.Pool) -> None:
    async with clean.acquire() as connection:
        await presence.publish(connection, "node-a", [AGENT2, AGENT3])
        await presence.publish(connection, "node-a", [AGENT3])
    assert await presence.members_elsewhere(clean, "PJSIP/agent2", "support", "node-b") == []


async def test_a_node_that_stopped_saying_it_is_alive_counts_for_nothing(
    clean: asyncpg.Pool,
) -> None:
    async with clean.acquire() as connection:
        await presence.publish(connection, "node-a", [AGENT2])
    await clean.execute("UPDATE cluster_nodes SET alive_at = now() - interval '7 seconds'")
    assert await presence.members_elsewhere(clean, "PJSIP/agent2", "support", "node-b") == []
    assert await presence.alive(clean, "node-a")  # alive again: its members count again
    assert len(await presence.members_elsewhere(clean, "PJSIP/agent2", "support", "node-b")) == 1


async def test_a_node_that_left_has_no_members_and_must_publish_again(
    clean: asyncpg.Pool,
) -> None:
    async with clean.acquire() as connection:
        await presence.publish(connection, "node-a", [AGENT2])
    await presence.leave(clean, "node-a")
    assert await presence.members_elsewhere(clean, "PJSIP/agent2", "support", "node-b") == []
    assert not await presence.alive(clean, "node-a")


async def test_a_node_name_that_could_not_be_a_trunk_is_refused(clean: asyncpg.Pool) -> None:
    async with clean.acquire() as connection:
        with pytest.raises(asyncpg.CheckViolationError):
            await presence.publish(connection, "node-a,PJSIP/x", [AGENT2])


async def test_the_leg_rung_through_a_trunk_is_learned_as_the_agents(pool: asyncpg.Pool) -> None:
    """The queue_log and the dialplan's reports name the sticky leg by what was dialled:
    PJSIP/agent2@node-a is agent2; nothing else with an @ is anyone."""
    await seed_demo(pool, datetime.now(UTC), reset=True)
    agent2 = await pool.fetchval("SELECT id FROM agents WHERE name = 'agent2'")

    async def named(who: str) -> int | None:
        return await pool.fetchval("SELECT agent_named($1)", who)  # type: ignore[no-any-return]

    assert await named("PJSIP/agent2@node-a") == agent2
    assert await named("PJSIP/agent2") == agent2
    for nobody in ("PJSIP/agent2@Node-A", "PJSIP/agent2@node-a@x", "PJSIP/agent9@node-a",
                   "PJSIP/agent@node-a", "SIP/agent2@node-a", "@node-a"):  # fmt: skip
        assert await named(nobody) is None, nobody


async def test_a_router_that_stopped_beating_is_gone_one_that_left_or_beats_is_not(
    clean: asyncpg.Pool,
) -> None:
    await clean.execute("DELETE FROM router_heartbeats")
    for app in ("sticky-router-1", "sticky-router-2", "sticky-router-3"):
        await presence.router_alive(clean, app)
    await clean.execute(
        "UPDATE router_heartbeats SET alive_at = now() - interval '7 seconds'"
        " WHERE app IN ('sticky-router-2', 'sticky-router-3')"
    )
    await presence.router_leaves(clean, "sticky-router-3")
    assert await presence.routers_gone(clean, "sticky-router-1") == {"sticky-router-2"}
    assert await presence.routers_gone(clean, "sticky-router-2") == set()  # never itself
    await presence.router_alive(clean, "sticky-router-2")  # back
    assert await presence.routers_gone(clean, "sticky-router-1") == set()
