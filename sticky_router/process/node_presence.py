"""This node's queue members, published for the other nodes' routers, and this router's
heartbeat for the other routers of its node (issue 17).

With several Asterisk nodes an agent is logged in on one of them; a caller on another node
reaches them through that node's trunk, once its router knows they are there and free
(routing_core/store/presence.py). This task copies AMI's member board to PostgreSQL whenever it
changes, and says the node is alive in between. While AMI is down the board is unknown, and so
is the node's presence: the other routers then send such callers to their queue, never to a
phone whose state nobody knows.

`check_node` holds the node's name to what its Asterisk says (its systemname).

`RouterHeartbeat` says this router is alive, under its ARI application name: when several routers
serve one Asterisk (StasisBroadcast) and one dies in the middle of a decision, the others'
sweeps take the callers it left behind (ari_app/resync.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Protocol

import asyncpg
import structlog

from sticky_router.ari_app.client import AriClient
from sticky_router.routing_core.live import MemberFacts
from sticky_router.routing_core.store import presence

log = structlog.get_logger("sticky_router.presence")

LOOK_SECONDS = 0.05  # how soon a change on the board is published
ALIVE_SECONDS = 2.0  # well inside presence.FRESH: one missed beat is not a node gone
# A change is published as the rows that changed; the whole board is written at the start, after
# the database was away, and at least this often, so that whatever a change missed (a row
# removed by hand, a write of another router of this node that overtook ours) is mended.
WHOLE_BOARD_SECONDS = 60.0


class Board(Protocol):
    known: bool
    version: int

    def members(self) -> list[MemberFacts]: ...


class NodePresence:
    def __init__(
        self,
        pool: asyncpg.Pool,
        node: str,
        board: Board,
        whole_board_seconds: float = WHOLE_BOARD_SECONDS,
    ) -> None:
        self._pool = pool
        self._node = node
        self._board = board
        self._whole_board_seconds = whole_board_seconds

    async def run(self) -> None:
        published: int | None = None  # the board's version PostgreSQL has
        members: list[MemberFacts] = []  # and its members, when `published` is not None
        beat = whole = 0.0
        failing = False
        while True:
            try:
                board = self._board
                if board.known and board.version != published:
                    version, now = board.version, board.members()
                    due = time.monotonic() - whole >= self._whole_board_seconds
                    mend = published is None or due
                    async with self._pool.acquire() as connection:
                        await presence.publish(
                            connection, self._node, now, since=None if mend else members
                        )
                    published, members, beat = version, now, time.monotonic()
                    if mend:
                        whole = beat
                elif not board.known and published is not None:
                    await presence.leave(self._pool, self._node)
                    published = None
                elif published is not None and time.monotonic() - beat >= ALIVE_SECONDS:
                    if not await presence.alive(self._pool, self._node):
                        published = None  # our row was removed: publish the board again
                    beat = time.monotonic()
                if failing:
                    log.info("presence_published", node=self._node)
                failing = False
            except asyncio.CancelledError:
                raise
            except Exception as error:  # the database is away: say so once, keep trying
                if not failing:
                    log.warning("presence_failed", node=self._node, error=type(error).__name__)
                failing, published = True, None
                await asyncio.sleep(ALIVE_SECONDS)
            await asyncio.sleep(LOOK_SECONDS)

    async def leave(self) -> None:
        """The router stops: the other nodes stop ringing this node's agents through it."""
        with contextlib.suppress(Exception):
            async with asyncio.timeout(2):
                await presence.leave(self._pool, self._node)


class RouterHeartbeat:
    def __init__(self, pool: asyncpg.Pool, app: str) -> None:
        self._pool = pool
        self._app = app

    async def run(self) -> None:
        failing = False
        while True:
            try:
                await presence.router_alive(self._pool, self._app)
                failing = False
            except asyncio.CancelledError:
                raise
            except Exception as error:
                if not failing:
                    log.warning("heartbeat_failed", app=self._app, error=type(error).__name__)
                failing = True
            await asyncio.sleep(ALIVE_SECONDS)

    async def dead_routers(self) -> set[str]:
        """The other routers' applications that stopped beating without leaving."""
        return await presence.routers_gone(self._pool, self._app)

    async def leave(self) -> None:
        """Stopped after draining: no caller of ours is left for the others to rescue."""
        with contextlib.suppress(Exception):
            async with asyncio.timeout(2):
                await presence.router_leaves(self._pool, self._app)


async def check_node(client: AriClient, node: str) -> bool | None:
    """Several nodes share one history only if every call id names its node: Asterisk starts
    each Uniqueid with its `systemname`, which must be this router's node. Whether it is (None:
    Asterisk could not be asked); a mismatch (or no systemname) is logged as an error at every
    connect. Calls are still routed: a wrong name costs the history, never a caller."""
    try:
        info = await client.request("GET", "/asterisk/info", params={"only": "config"})
        reported = str(((info or {}).get("config") or {}).get("name") or "")
    except Exception as error:
        log.warning("node_check_failed", node=node, error=type(error).__name__)
        return None
    if reported != node:
        log.error(
            "node_mismatch", node=node, systemname=reported or "(none)",
            why="set systemname in asterisk.conf [options] to the router's STICKY_NODE: "
            "without it, two nodes' call ids can be the same and their calls merge",
        )  # fmt: skip
        return False
    return True
