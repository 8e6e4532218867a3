"""Where a piece of personal data still lies: every text or JSON column of every table."""

from __future__ import annotations

import asyncpg

_COLUMNS = """
    SELECT c.table_name, c.column_name FROM information_schema.columns c
    JOIN information_schema.tables t
      ON t.table_schema = c.table_schema AND t.table_name = c.table_name
    WHERE c.table_schema = 'public' AND t.table_type = 'BASE TABLE'
      AND c.data_type IN ('text', 'character varying', 'json', 'jsonb')
      AND c.table_name <> 'alembic_version'
    ORDER BY 1, 2
"""


async def personal_traces(pool: asyncpg.Pool, needles: list[str]) -> list[tuple[str, str, str]]:
    """(table, column, needle) for every column that still holds one of the needles."""
    found = []
    for row in await pool.fetch(_COLUMNS):
        table, column = row["table_name"], row["column_name"]
        for needle in needles:
            hits = await pool.fetchval(
                f'SELECT count(*) FROM "{table}" WHERE strpos("{column}"::text, $1) > 0', needle
            )
            if hits:
                found.append((table, column, needle))
    return found


async def rows_of_customer(pool: asyncpg.Pool, customer_id: int) -> list[tuple[str, int]]:
    """(table, rows) for every table with a customer_id column that still points at them."""
    tables = await pool.fetch(
        "SELECT table_name FROM information_schema.columns "
        "WHERE table_schema = 'public' AND column_name = 'customer_id' ORDER BY 1"
    )
    found = []
    for row in tables:
        table = row["table_name"]
        count = await pool.fetchval(
            f'SELECT count(*) FROM "{table}" WHERE customer_id = $1', customer_id
        )
        if count:
            found.append((table, count))
    return found


async def table_sizes(pool: asyncpg.Pool) -> dict[str, int]:
    """Rows per table: what "nothing was erased" compares."""
    tables = await pool.fetch(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"
    )
    return {
        row["tablename"]: await pool.fetchval(f'SELECT count(*) FROM "{row["tablename"]}"')
        for row in tables
    }
