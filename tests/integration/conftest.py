"""A real PostgreSQL cluster for the whole run, started by the suite itself, migrated once."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import asyncpg
import pytest

from devkit.demo import DEMO_TABLES
from devkit.sandbox.postgres import LocalPostgres, throwaway_postgres
from sticky_router.process import database


@pytest.fixture(scope="package")
def postgres() -> Iterator[LocalPostgres]:
    with throwaway_postgres() as server:
        yield server


@pytest.fixture(scope="package")
def database_url(postgres: LocalPostgres) -> str:
    database.upgrade(postgres.dsn)
    return postgres.dsn


@pytest.fixture(scope="package")
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await database.create_pool(database_url, size=10)
    yield pool
    await pool.close()


@pytest.fixture
async def db(pool: asyncpg.Pool) -> asyncpg.Pool:
    """The shared database, emptied of routing data before each test."""
    await pool.execute(f"TRUNCATE {', '.join(DEMO_TABLES)} RESTART IDENTITY CASCADE")
    await pool.execute("DELETE FROM customer_classes WHERE name <> 'standard'")
    return pool


async def create_database(postgres: LocalPostgres, name: str) -> str:
    """A fresh, empty database in the same cluster; returns its URL."""
    admin = await asyncpg.connect(postgres.dsn)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    return postgres.dsn.rsplit("/", 1)[0] + f"/{name}"
