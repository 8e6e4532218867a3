"""Revision 0009 is what makes a customer deletable at all: before it, the foreign keys of
tickets and calls had no ON DELETE and refused."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import asyncpg
import pytest

from devkit.demo import seed_demo
from devkit.sandbox.postgres import LocalPostgres
from sticky_router.process import database
from tests.integration.conftest import create_database


async def test_a_customer_is_deletable_from_revision_0009_on(postgres: LocalPostgres) -> None:
    url = await create_database(postgres, "erasure_schema")
    await asyncio.to_thread(database.upgrade, url, "0008")
    pool = await database.create_pool(url, 2)
    try:
        await seed_demo(pool, datetime.now(UTC), reset=True)
        with pytest.raises(asyncpg.ForeignKeyViolationError, match="tickets_customer_id_fkey"):
            await pool.execute("DELETE FROM customers WHERE name = 'Ivan Petrov'")
        agent4 = "DELETE FROM agents WHERE name = 'agent4'"  # Pavel Orlov's personal manager
        await pool.execute("DELETE FROM interaction_legs")
        await pool.execute("UPDATE interactions SET target_agent_id = NULL")
        await pool.execute("UPDATE tickets SET owner_agent_id = NULL")
        with pytest.raises(asyncpg.ForeignKeyViolationError, match="personal_agent_id"):
            await pool.execute(agent4)

        await asyncio.to_thread(database.upgrade, url, "0009")

        await pool.execute("DELETE FROM customers WHERE name = 'Ivan Petrov'")
        assert await pool.fetchval("SELECT count(*) FROM tickets WHERE external_id = 'T-1001'") == 0
        erased = await pool.fetchrow(
            "SELECT customer_id, ticket_id FROM interactions WHERE call_id = 'demo-0-0'"
        )
        assert erased is not None
        assert tuple(erased) == (None, None)
        await pool.execute(agent4)
        assert await pool.fetchval(
            "SELECT personal_agent_id FROM customers WHERE name = 'Pavel Orlov'"
        ) is None  # fmt: skip
    finally:
        await pool.close()
