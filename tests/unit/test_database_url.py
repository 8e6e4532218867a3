"""The database URL as Alembic's SQLAlchemy engine is given it (database.sqlalchemy_url).

The router's URL is libpq's, for asyncpg; SQLAlchemy's asyncpg dialect wants its own scheme and,
for a primary with replicas, the hosts and ports as query parameters (`host=h1,h2&port=p1,p2`)
instead of libpq's `host1:port1,host2:port2`. Each converted URL is also read back the way the
dialect reads it: what matters is the hosts, ports and password asyncpg is finally handed.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.dialects.postgresql.asyncpg import PGDialect_asyncpg
from sqlalchemy.engine import make_url

from sticky_router.process.database import sqlalchemy_url


def connect_args(url: str) -> dict[str, Any]:
    """What SQLAlchemy's asyncpg dialect hands to asyncpg.connect for `url`."""
    dialect = PGDialect_asyncpg()  # type: ignore[no-untyped-call]  # SQLAlchemy's, untyped
    _, kwargs = dialect.create_connect_args(make_url(url))  # type: ignore[no-untyped-call]
    return dict(kwargs)


@pytest.mark.parametrize("scheme", ["postgresql", "postgres"])
def test_a_single_host_only_changes_the_scheme(scheme: str) -> None:
    url = f"{scheme}://router@db.internal:5432/sticky?sslmode=require"
    assert (
        sqlalchemy_url(url) == "postgresql+asyncpg://router@db.internal:5432/sticky?sslmode=require"
    )


def test_a_percent_escaped_password_is_kept_escaped() -> None:
    url = "postgresql://router:p%40ss%2Fw%25rd@db.internal:5432/sticky"
    converted = sqlalchemy_url(url)
    assert converted == "postgresql+asyncpg://router:p%40ss%2Fw%25rd@db.internal:5432/sticky"
    assert connect_args(converted)["password"] == "p@ss/w%rd"


def test_several_hosts_become_host_parameters_and_the_query_is_kept() -> None:
    url = (
        "postgresql://router:p%40ss@db1.internal:5432,db2.internal:5433/sticky"
        "?target_session_attrs=read-write&sslmode=disable"
    )
    converted = sqlalchemy_url(url)
    assert converted == (
        "postgresql+asyncpg://router:p%40ss@/sticky?host=db1.internal,db2.internal&port=5432,5433"
        "&target_session_attrs=read-write&sslmode=disable"
    )
    args = connect_args(converted)
    assert args["host"] == ["db1.internal", "db2.internal"]
    assert args["port"] == [5432, 5433]
    assert args["password"] == "p@ss"
    assert args["user"] == "router"
    assert args["database"] == "sticky"
    assert args["target_session_attrs"] == "read-write"
    assert args["sslmode"] == "disable"


def test_several_hosts_without_a_query() -> None:
    converted = sqlalchemy_url("postgresql://router@10.0.0.1:5432,10.0.0.2:5432/sticky")
    assert converted == "postgresql+asyncpg://router@/sticky?host=10.0.0.1,10.0.0.2&port=5432,5432"


@pytest.mark.parametrize(
    "url",
    [
        "mysql://router@db.internal/sticky",
        "sqlite:///sticky.db",
        "postgresql+asyncpg://router@db.internal/sticky",  # already SQLAlchemy's
        "db.internal:5432/sticky",
    ],
)
def test_anything_but_a_postgresql_url_is_refused(url: str) -> None:
    with pytest.raises(ValueError, match=r"postgresql://"):
        sqlalchemy_url(url)


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://router@db1.internal,db2.internal/sticky",  # libpq: port 5432 for both
        "postgresql://router@[fd00::1]:5432,[fd00::2]:5432/sticky",
    ],
)
def test_multi_host_urls_libpq_accepts_reach_the_dialect(url: str) -> None:
    """libpq's default port and IPv6 literals: the dialect splits a `host=h:p` value at every
    `:` and needs every port, so the hosts go as one list and the ports as another."""
    args = connect_args(sqlalchemy_url(url))
    assert args["host"] in (["db1.internal", "db2.internal"], ["fd00::1", "fd00::2"])
    assert args["port"] == [5432, 5432]
