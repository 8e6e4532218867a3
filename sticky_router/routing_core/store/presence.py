"""Which queue members each Asterisk node has now, and which routers are alive, shared through
PostgreSQL (issue 17).

The router of each node writes its node's members (`publish`) and says it is alive; another
node's router asks where an agent who is not a member of its own queue is one
(`members_elsewhere`). A node whose router has not said it is alive within `fresh` counts for
nothing: its router is gone, and what it last wrote may no longer be true. Likewise each router
beats under its ARI application name (`router_alive`); the callers held by the application of a
router that stopped beating are another router's to rescue (`routers_gone`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from sticky_router.routing_core.live import MemberFacts
from sticky_router.routing_core.store import Connection, Executor

FRESH = timedelta(seconds=6)


@dataclass(frozen=True, slots=True)
class MemberElsewhere:
    node: str
    facts: MemberFacts


async def publish(connection: Connection, node: str, members: Sequence[MemberFacts]) -> None:
    """The node's members as they are now, in one transaction: readers see the old set or the
    new one, never half of each."""
    async with connection.transaction():
        await connection.execute(
            "INSERT INTO cluster_nodes (name, alive_at) VALUES ($1, now())"
            " ON CONFLICT (name) DO UPDATE SET alive_at = now()",
            node,
        )
        await connection.execute("DELETE FROM node_members WHERE node = $1", node)
        await connection.copy_records_to_table(
            "node_members",
            records=[(node, m.queue, m.interface, m.device_state, m.paused) for m in members],
            columns=["node", "queue", "interface", "device_state", "paused"],
        )


async def alive(executor: Executor, node: str) -> bool:
    """Still here, members unchanged; False when the node's row is gone (publish again)."""
    updated = await executor.execute(
        "UPDATE cluster_nodes SET alive_at = now() WHERE name = $1", node
    )
    return updated != "UPDATE 0"


async def leave(executor: Executor, node: str) -> None:
    """The router stops: its node's members are no longer known to anyone."""
    await executor.execute("DELETE FROM cluster_nodes WHERE name = $1", node)


async def members_elsewhere(
    executor: Executor, interface: str, queue: str, node: str, fresh: timedelta = FRESH
) -> list[MemberElsewhere]:
    """Memberships of `interface` in `queue` on other live nodes (Asterisk compares member
    interfaces without regard to case), the freshest node first."""
    rows = await executor.fetch(
        """
        SELECT m.node, m.queue, m.interface, m.device_state, m.paused
          FROM node_members m JOIN cluster_nodes n ON n.name = m.node
         WHERE lower(m.interface) = lower($1) AND m.queue = $2 AND m.node <> $3
           AND n.alive_at > now() - $4::interval
         ORDER BY n.alive_at DESC
        """,
        interface,
        queue,
        node,
        fresh,
    )
    return [
        MemberElsewhere(
            row["node"],
            MemberFacts(row["queue"], row["interface"], row["device_state"], row["paused"]),
        )
        for row in rows
    ]


async def router_alive(executor: Executor, app: str) -> None:
    await executor.execute(
        "INSERT INTO router_heartbeats (app, alive_at) VALUES ($1, now())"
        " ON CONFLICT (app) DO UPDATE SET alive_at = now()",
        app,
    )


async def router_leaves(executor: Executor, app: str) -> None:
    """A router that stops after draining leaves no caller behind: nothing to rescue."""
    await executor.execute("DELETE FROM router_heartbeats WHERE app = $1", app)


async def routers_gone(executor: Executor, app: str, fresh: timedelta = FRESH) -> set[str]:
    """The applications of other routers that beat once and then stopped without leaving."""
    rows = await executor.fetch(
        "SELECT app FROM router_heartbeats WHERE app <> $1 AND alive_at <= now() - $2::interval",
        app,
        fresh,
    )
    return {row["app"] for row in rows}
