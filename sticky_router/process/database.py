"""Connecting to Postgres: the asyncpg pool for routing, the Alembic upgrade for the schema.

Two deployments besides a plain server (docs/multi-node.md):
- a primary with streaming replicas: the URL lists every host, libpq style
  (`postgresql://u@db1:5432,db2:5432/sticky?target_session_attrs=read-write`), and a broken
  connection is replaced by one to whichever host is the primary now;
- behind a pooler in transaction mode (PgBouncer `pool_mode = transaction`): consecutive
  transactions of one client run on different server sessions, so nothing may rely on session
  state: no prepared statement kept between transactions, no startup parameter the pooler does
  not know, and LISTEN (a session's) on a direct connection of its own.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

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
    """The same database for SQLAlchemy's asyncpg dialect, which reads several hosts only from
    query parameters, not from libpq's `host1:port1,host2:port2`. Given as `host=h1,h2` and
    `port=p1,p2`: the dialect splits a `host=h:p` value at every `:` (an IPv6 literal breaks)
    and needs every port (libpq's default 5432 is filled in)."""
    parts = urlsplit(database_url)
    if parts.scheme not in ("postgresql", "postgres"):
        raise ValueError("expected a postgresql:// URL")
    user, at, hosts = parts.netloc.rpartition("@")
    if "," not in hosts:
        return urlunsplit(parts._replace(scheme="postgresql+asyncpg"))
    names, ports = zip(*(_host_and_port(host) for host in hosts.split(",")), strict=True)
    query = f"host={quote(','.join(names), safe=':,')}&port={','.join(ports)}"
    if parts.query:
        query = f"{query}&{parts.query}"
    return urlunsplit(("postgresql+asyncpg", f"{user}{at}", parts.path, query, parts.fragment))


def _host_and_port(host: str) -> tuple[str, str]:
    """`db1:5433` -> (db1, 5433); `[fd00::1]:5432` -> (fd00::1, 5432); `db1` -> (db1, 5432)."""
    if host.startswith("["):
        name, _, rest = host[1:].partition("]")
        return name, rest.removeprefix(":") or "5432"
    name, _, port = host.partition(":")
    return name, port or "5432"


def upgrade(database_url: str, revision: str = "head") -> None:
    """Blocking (Alembic runs its own event loop): call it from a thread inside async code."""
    command.upgrade(alembic_config(database_url), revision)


def downgrade(database_url: str, revision: str) -> None:
    command.downgrade(alembic_config(database_url), revision)


async def _keep_session(connection: asyncpg.Connection) -> None:
    """Nothing on the decision path changes session state, so a connection going back to the pool
    needs no reset query (asyncpg's default costs a round trip per checkout). asyncpg still rolls
    back any transaction left open before this runs."""


async def create_pool(
    database_url: str, size: int = 10, *, min_size: int = 2, transaction_pooled: bool = False
) -> asyncpg.Pool:
    """`transaction_pooled`: `database_url` is a pooler in transaction mode (module docstring)."""
    server_settings = {"application_name": "sticky-router", "timezone": "UTC"}
    if not transaction_pooled:
        # The decision statements are index probes whatever the parameters; re-planning them
        # per call (PostgreSQL's custom plans) cost more than executing them (measured at 10
        # million interactions: the context lookup went from 1.45 ms to 0.77 ms). PgBouncer
        # refuses a connection that sends this ("unsupported startup parameter").
        server_settings["plan_cache_mode"] = "force_generic_plan"
    pool = await asyncpg.create_pool(
        database_url,
        reset=_keep_session,
        min_size=min(min_size, size),
        max_size=size,
        # The decision path runs the same handful of statements all day long. Behind a
        # transaction pooler a statement prepared in one transaction is gone in the next
        # ("prepared statement __asyncpg_stmt_78__ does not exist": measured with PgBouncer 1.18).
        statement_cache_size=0 if transaction_pooled else 256,
        command_timeout=10,
        server_settings=server_settings,
    )
    assert pool is not None
    return pool


async def open_pool(
    database_url: str, size: int = 10, *, transaction_pooled: bool = False
) -> asyncpg.Pool:
    """The pool a long-running process starts with, whatever state PostgreSQL is in: when it
    does not answer yet (it starts after us, it fails over), the pool connects on first use
    instead, calls go to the queue meanwhile, and what is learned waits in the journal."""
    try:
        return await create_pool(database_url, size, transaction_pooled=transaction_pooled)
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
        log.warning(
            "database_unavailable_at_start",
            error=type(error).__name__,
            why="calls go to the queue until PostgreSQL answers; what is learned waits in the "
            "journal",
        )
        return await create_pool(
            database_url, size, min_size=0, transaction_pooled=transaction_pooled
        )
