"""The SQL side of the core: asyncpg and hand-written statements, nothing else.

The decision path is a handful of statements run all day long; hand-written SQL on asyncpg keeps
it to a few index probes and a few hundred microseconds. Alembic owns the schema (`migrations/`).
"""

from __future__ import annotations

from typing import TypeAlias

import asyncpg
from asyncpg.pool import PoolConnectionProxy

# Anything statements can run on: a connection, one borrowed from a pool, or the pool itself.
# Written as strings because asyncpg's classes are generic only in its type stubs.
Connection: TypeAlias = "asyncpg.Connection[asyncpg.Record] | PoolConnectionProxy[asyncpg.Record]"
Executor: TypeAlias = "Connection | asyncpg.Pool[asyncpg.Record]"
