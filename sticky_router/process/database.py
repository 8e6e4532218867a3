"""Connecting to Postgres: the asyncpg pool for routing, the Alembic upgrade for the schema."""

from __future__ import annotations

from pathlib import Path

import asyncpg
import structlog
from alembic import command
from alembic.config import Config as AlembicConfig

from sticky_router import migrations

MIGRATIONS_DIR = Path(migrations.__file__).parent
log = structlog.get_logger("sticky_router.database")


def alembic_config(database_url: str) -> AlembicConfig:
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # Handed over as an attribute, not an option: options are interpolated and may be logged.
    config.attributes["sqlalchemy_url"] = sqlalchemy_url(database_url)
    return config


def sqlalchemy_url(database_url: str) -> str:
    scheme, rest = database_url.split("://", 1)
    if scheme not in ("postgresql", "postgres"):
        raise ValueError("expected a postgresql:// URL")
    return f"postgresql+asyncpg://{rest}"


def upgrade(database_url: str, revision: str = "head") -> None:
    """Blocking (Alembic runs its own event loop): call it from a thread inside async code."""
    command.upgrade(alembic_config(database_url), revision)


def downgrade(database_url: str, revision: str) -> None:
    command.downgrade(alembic_config(database_url), revision)


async def _keep_session(connection: asyncpg.Connection) -> None:
    """Nothing on the decision path changes session state, so a connection going back to the pool
    needs no reset query (asyncpg's default costs a round trip per checkout). asyncpg still rolls
    back any transaction left open before this runs."""


async def create_pool(database_url: str, size: int = 10, *, min_size: int = 2) -> asyncpg.Pool:
    pool = await asyncpg.create_pool(
        database_url,
        reset=_keep_session,
        min_size=min(min_size, size),
        max_size=size,
        # The decision path runs the same handful of statements all day long.
        statement_cache_size=256,
        command_timeout=10,
        server_settings={
            "application_name": "sticky-router",
            "timezone": "UTC",
            # The decision statements are index probes whatever the parameters; re-planning
            # them per call (PostgreSQL's custom plans) cost more than executing them (measured
            # at 10 million interactions: the context lookup went from 1.45 ms to 0.77 ms).
            "plan_cache_mode": "force_generic_plan",
        },
    )
    assert pool is not None
    return pool


async def open_pool(database_url: str, size: int = 10) -> asyncpg.Pool:
    """The pool a long-running process starts with, whatever state PostgreSQL is in: when it
    does not answer yet (it starts after us, it fails over), the pool connects on first use
    instead, calls go to the queue meanwhile, and what is learned waits in the journal."""
    try:
        return await create_pool(database_url, size)
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
        log.warning(
            "database_unavailable_at_start",
            error=type(error).__name__,
            why="calls go to the queue until PostgreSQL answers; what is learned waits in the "
            "journal",
        )
        return await create_pool(database_url, size, min_size=0)
