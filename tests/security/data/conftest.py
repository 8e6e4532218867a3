"""Retention and erasure on the integration suite's real PostgreSQL, seeded with the demo."""

from __future__ import annotations

from datetime import UTC, datetime

import asyncpg
import pytest

from devkit.demo import seed_demo
from tests.integration.conftest import database_url, pool, postgres

__all__ = ["database_url", "demo", "pool", "postgres"]

# Tables the demo's reset does not reach (no foreign key leads to them).
PRIVACY_TABLES = ("erasure_audit", "interaction_daily_counts")


@pytest.fixture
async def demo(pool: asyncpg.Pool) -> asyncpg.Pool:
    """The demo data as `seed-demo --reset` leaves it, and no trace of an earlier test."""
    await seed_demo(pool, datetime.now(UTC), reset=True)
    await pool.execute(f"TRUNCATE {', '.join(PRIVACY_TABLES)}")
    return pool
