"""The presence task on a real cluster (issue 17's member board, issue 18's cost): a call
changes one agent's state, and only that agent's row is written again; what the other nodes
read is the board as it is, after changes, removals, additions and a database that was away."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import asyncpg
import pytest

from sticky_router.process.node_presence import NodePresence
from sticky_router.routing_core.live import MemberFacts
from testkit.waiting import eventually

pytestmark = pytest.mark.integration

NODE = "node-a"


@dataclass
class Board:
    """AMI's member board as NodePresence sees it: known, versioned, its members."""

    known: bool = True
    version: int = 1
    facts: list[MemberFacts] = field(default_factory=list)

    def members(self) -> list[MemberFacts]:
        return list(self.facts)

    def set(self, facts: list[MemberFacts]) -> None:
        self.facts = facts
        self.version += 1


def member(number: int, state: str = "NOT_INUSE", queue: str = "support") -> MemberFacts:
    return MemberFacts(queue, f"PJSIP/agent{number}", state, paused=False)


@pytest.fixture
async def clean(pool: asyncpg.Pool) -> asyncpg.Pool:
    await pool.execute("DELETE FROM cluster_nodes")
    return pool


@contextlib.asynccontextmanager
async def presence_running(
    pool: asyncpg.Pool, board: Board, whole_board_seconds: float = 60
) -> AsyncIterator[None]:
    publisher = NodePresence(pool, NODE, board, whole_board_seconds)
    task = asyncio.get_running_loop().create_task(publisher.run())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def published(pool: asyncpg.Pool) -> dict[tuple[str, str], tuple[str, bool, str]]:
    """(queue, interface) -> (state, paused, the row version's xmin)."""
    rows = await pool.fetch(
        "SELECT queue, interface, device_state, paused, xmin::text AS xmin"
        " FROM node_members WHERE node = $1",
        NODE,
    )
    return {(r["queue"], r["interface"]): (r["device_state"], r["paused"], r["xmin"]) for r in rows}


async def shows(pool: asyncpg.Pool, board: Board) -> bool:
    now = await published(pool)
    wanted = {(m.queue, m.interface): (m.device_state, m.paused) for m in board.facts}
    return {key: row[:2] for key, row in now.items()} == wanted


async def test_a_call_rewrites_only_its_agents_row(clean: asyncpg.Pool) -> None:
    board = Board(facts=[member(n) for n in range(1, 201)])
    async with presence_running(clean, board):
        await eventually(lambda: shows(clean, board), 5)
        before = await published(clean)
        board.set([member(7, "INUSE"), *[m for m in board.facts if m.interface != "PJSIP/agent7"]])
        await eventually(lambda: shows(clean, board), 5)
        after = await published(clean)
    rewritten = {key for key in after if after[key][2] != before[key][2]}
    assert rewritten == {("support", "PJSIP/agent7")}


async def test_removals_additions_and_pauses_reach_the_other_nodes(clean: asyncpg.Pool) -> None:
    board = Board(facts=[member(1), member(2), member(3, queue="second-line")])
    async with presence_running(clean, board):
        await eventually(lambda: shows(clean, board), 5)
        board.set([
            MemberFacts("support", "PJSIP/agent1", "NOT_INUSE", paused=True),
            member(3, queue="second-line"),
            member(4, "RINGING"),
            member(2, queue="second-line"),
        ])  # fmt: skip
        await eventually(lambda: shows(clean, board), 5)
        board.set([])
        await eventually(lambda: shows(clean, board), 5)


async def test_after_its_row_was_removed_the_whole_board_is_written_again(
    clean: asyncpg.Pool,
) -> None:
    """Another process removed the node (a router of it that stopped, an operator): the
    members went with it, and a change of one member alone must not leave the others out."""
    board = Board(facts=[member(1), member(2), member(3)])
    async with presence_running(clean, board):
        await eventually(lambda: shows(clean, board), 5)
        await clean.execute("DELETE FROM cluster_nodes WHERE name = $1", NODE)
        await eventually(lambda: shows(clean, board), 10)  # the next beat finds it gone
        board.set([member(1, "INUSE"), member(2), member(3)])
        await eventually(lambda: shows(clean, board), 5)


@pytest.mark.parametrize("whole_board_seconds", [0, 3600])
async def test_the_whole_board_now_and_then_mends_what_a_change_missed(
    clean: asyncpg.Pool, whole_board_seconds: float
) -> None:
    """A member's row lost behind the task's back (removed by hand) comes back with the next
    whole board, not with a change of another member alone."""
    board = Board(facts=[member(n) for n in range(1, 6)])
    async with presence_running(clean, board, whole_board_seconds):
        await eventually(lambda: shows(clean, board), 5)
        await clean.execute("DELETE FROM node_members WHERE interface = 'PJSIP/agent5'")
        board.set([member(1, "INUSE"), *board.facts[1:]])
        await eventually(
            lambda: clean.fetchval("SELECT device_state = 'INUSE' FROM node_members"
                                   " WHERE interface = 'PJSIP/agent1'"), 5)  # fmt: skip
        mended = await shows(clean, board)
    assert mended == (whole_board_seconds == 0)
