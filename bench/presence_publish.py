"""What publishing a node's member board costs PostgreSQL: the whole board against the changes.

    .venv/bin/python -m bench.presence_publish [--members 300] [--changes 500]

A throwaway PostgreSQL (fsync on, as deployed). A node's board of `--members` queue members;
then `--changes` times one member's device state changes (a call rings, answers, ends) and the
board is published, once by writing the whole board (as every publish did before session 20)
and once by writing only what changed (`presence.publish(..., since=...)`), one after the
other in the same run. Prints, for each: the publish's p50 and p99, the WAL written and the
rows inserted, deleted and updated per publish (pg_stat_user_tables: each deleted or updated
row is a dead row VACUUM must clear). Asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import random
import time
from dataclasses import replace

import asyncpg

from bench.figures import percentile
from devkit.sandbox.postgres import throwaway_postgres
from sticky_router.process import database
from sticky_router.routing_core.live import MemberFacts
from sticky_router.routing_core.store import presence

STATES = ("NOT_INUSE", "RINGING", "INUSE")
NODE = "node-a"


async def _row_counts(pool: asyncpg.Pool) -> tuple[int, int, int, int]:
    """Rows inserted, deleted, updated in node_members, and the WAL position, now."""
    await pool.execute("SELECT pg_stat_force_next_flush()")
    row = await pool.fetchrow(
        "SELECT n_tup_ins, n_tup_del, n_tup_upd, pg_current_wal_lsn() - '0/0'::pg_lsn AS wal"
        " FROM pg_stat_user_tables WHERE relname = 'node_members'"
    )
    assert row is not None
    return int(row["n_tup_ins"]), int(row["n_tup_del"]), int(row["n_tup_upd"]), int(row["wal"])


async def _publish_all(
    pool: asyncpg.Pool, boards: list[list[MemberFacts]], changes_only: bool
) -> tuple[list[float], tuple[int, ...]]:
    async with pool.acquire() as connection:
        await presence.publish(connection, NODE, boards[0])
    before = await _row_counts(pool)
    timings = []
    async with pool.acquire() as connection:
        for previous, board in itertools.pairwise(boards):
            started = time.perf_counter()
            await presence.publish(
                connection, NODE, board, since=previous if changes_only else None
            )
            timings.append((time.perf_counter() - started) * 1000)
    after = await _row_counts(pool)
    return timings, tuple(b - a for a, b in zip(before, after, strict=True))


def _boards(members: int, changes: int) -> list[list[MemberFacts]]:
    rng = random.Random(18)
    board = [MemberFacts("support", f"PJSIP/agent{n}", "NOT_INUSE", False) for n in range(members)]
    boards = [board]
    for _ in range(changes):
        board = list(board)
        which = rng.randrange(members)
        board[which] = replace(board[which], device_state=rng.choice(STATES))
        boards.append(board)
    return boards


async def run(dsn: str, members: int, changes: int) -> None:
    pool = await database.create_pool(dsn, 2)
    try:
        boards = _boards(members, changes)
        print(f"{members} members, {changes} publishes of one member's change each")
        print("| publish | p50 ms | p99 ms | WAL per publish | rows in / deleted / updated each |")
        print("|---|---|---|---|---|")
        for label, changes_only in (("whole board", False), ("changes only", True)):
            await pool.execute("DELETE FROM cluster_nodes")
            timings, (inserted, deleted, updated, wal) = await _publish_all(
                pool, boards, changes_only
            )
            count = len(timings)
            print(
                f"| {label} | {percentile(timings, 0.5):.2f} | {percentile(timings, 0.99):.2f} "
                f"| {wal / count / 1024:.1f} KiB | {inserted / count:.1f} / {deleted / count:.1f}"
                f" / {updated / count:.1f} |"
            )
    finally:
        await pool.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=300)
    parser.add_argument("--changes", type=int, default=500)
    arguments = parser.parse_args()
    with throwaway_postgres() as server:
        database.upgrade(server.dsn)
        asyncio.run(run(server.dsn, arguments.members, arguments.changes))


if __name__ == "__main__":
    main()
