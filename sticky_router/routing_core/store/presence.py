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


async def publish(
    connection: Connection,
    node: str,
    members: Sequence[MemberFacts],
    since: Sequence[MemberFacts] | None = None,
) -> None:
    """The node's members as they are now, in one transaction: readers see the old set or the
    new one, never half of each. `since`: what this router last published for the node, so
    only the rows that changed are written (a call changes one agent's state: rewriting a
    busy node's whole board for it was hundreds of rows deleted and written again, each a dead
    row for VACUUM; bench/presence_publish.py). None: the whole board is written."""
    async with connection.transaction():
        await connection.execute(
            "INSERT INTO cluster_nodes (name, alive_at) VALUES ($1, now())"
            " ON CONFLICT (name) DO UPDATE SET alive_at = now()",
            node,
        )
        if since is None:
            await connection.execute("DELETE FROM node_members WHERE node = $1", node)
            await connection.copy_records_to_table(
                "node_members",
                records=[
                    (node, queue, interface, state, paused)
                    for (queue, interface), (state, paused) in _rows(members).items()
                ],
                columns=["node", "queue", "interface", "device_state", "paused"],
            )
            return
        now, before = _rows(members), _rows(since)
        gone = [key for key in before if key not in now]
        changed = [(key, row) for key, row in now.items() if before.get(key) != row]
        if gone:
            await connection.execute(
                "DELETE FROM node_members m USING unnest($2::text[], $3::text[]) g (q, i)"
                " WHERE m.node = $1 AND m.queue = g.q AND m.interface = g.i",
                node, [queue for queue, _ in gone], [interface for _, interface in gone],
            )  # fmt: skip
        if changed:
            await connection.execute(
                "INSERT INTO node_members (node, queue, interface, device_state, paused)"
                " SELECT $1, * FROM unnest($2::text[], $3::text[], $4::text[], $5::bool[])"
                " ON CONFLICT (node, queue, interface) DO UPDATE"
                " SET device_state = excluded.device_state, paused = excluded.paused",
                node,
                [queue for (queue, _), _ in changed],
                [interface for (_, interface), _ in changed],
                [state for _, (state, _) in changed],
                [paused for _, (_, paused) in changed],
            )


def _rows(members: Sequence[MemberFacts]) -> dict[tuple[str, str], tuple[str, bool]]:
    """(queue, interface) -> (device state, paused): a member's row, by its key."""
    return {(m.queue, m.interface): (m.device_state, m.paused) for m in members}


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
