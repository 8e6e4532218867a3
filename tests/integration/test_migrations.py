"""Stairway: every revision upgrades, downgrades and upgrades again on a throwaway database."""

from __future__ import annotations

import asyncio

import asyncpg
from alembic.script import ScriptDirectory

from devkit.sandbox.postgres import LocalPostgres
from sticky_router.process import database
from tests.integration.conftest import create_database


def _revisions() -> list[str]:
    script = ScriptDirectory.from_config(database.alembic_config("postgresql://unused/db"))
    return [revision.revision for revision in reversed(list(script.walk_revisions()))]


async def _tables(url: str) -> set[str]:
    connection = await asyncpg.connect(url)
    try:
        rows = await connection.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    finally:
        await connection.close()
    return {row["tablename"] for row in rows} - {"alembic_version"}


async def test_stairway(postgres: LocalPostgres) -> None:
    url = await create_database(postgres, "stairway")
    revisions = _revisions()
    assert revisions[:2] == ["0001", "0002"]
    seen: list[set[str]] = [set()]
    for revision in revisions:
        await asyncio.to_thread(database.upgrade, url, revision)
        after_upgrade = await _tables(url)
        await asyncio.to_thread(database.downgrade, url, "-1")
        assert await _tables(url) == seen[-1], f"downgrade of {revision} left tables behind"
        await asyncio.to_thread(database.upgrade, url, revision)
        assert await _tables(url) == after_upgrade
        seen.append(after_upgrade)
    await asyncio.to_thread(database.downgrade, url, "base")
    assert await _tables(url) == set()


async def test_callback_lookup_uses_index_probes(db: asyncpg.Pool) -> None:
    """With the planner told sequential scans are off-limits, no history query needs one."""
    async with db.acquire() as connection, connection.transaction():
        await connection.execute("SET LOCAL enable_seqscan = off")
        for column in ("caller_number", "customer_id", "ticket_id"):
            rows = await connection.fetch(
                f"EXPLAIN SELECT id FROM interactions WHERE {column} = $1 "
                "AND ended_at IS NOT NULL ORDER BY ended_at DESC LIMIT 10",
                "+79123456701" if column == "caller_number" else 1,
            )
            plan = "\n".join(row[0] for row in rows)
            assert "Index Scan using interactions_by_" in plan, plan
