"""The caller known by number alone is looked up in one round trip (lookup_sql.NUMBER_FACTS):
on a real PostgreSQL, the same facts as the identity query and the context query in turn, for
every demo caller (sticky, VIP with a personal manager, ticket owner, shared number, blocked,
banned pairs, an outage), callers with old history and an unknown number."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from devkit.demo import CUSTOMERS, seed_demo
from sticky_router.routing_core.model import CallerKey, KeyKind
from sticky_router.routing_core.store import lookup
from sticky_router.routing_core.store.lookup import read_facts

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
NUMBERS = sorted({number for customer in CUSTOMERS for number in customer.numbers})
OTHERS = ["+79165550003", "+79165550039", "+79990000001"]  # old history; nobody at all


@pytest.fixture
async def demo(db: asyncpg.Pool) -> asyncpg.Pool:
    await seed_demo(db, NOW)
    # An outage declared for the queue and a supervisor's settings: the context's other parts.
    await db.execute(
        "INSERT INTO incidents (scope_kind, scope_value, description, announce_sound, "
        "started_at, started_by) VALUES ('queue', 'support', 'fibre cut', 'outage', $1, 'test')",
        NOW - timedelta(minutes=5),
    )
    await db.execute(
        "INSERT INTO routing_settings (scope_kind, scope_value, key, value, updated_by) "
        "VALUES ('queue', 'support', 'window_minutes', '90', 'test')"
    )
    return db


@pytest.mark.parametrize("number", NUMBERS + OTHERS)
async def test_one_trip_reads_what_two_trips_read(demo: asyncpg.Pool, number: str) -> None:
    key = CallerKey(KeyKind.NUMBER, number)
    where = {"number": number, "call_id": "c-now", "queue": "support", "did": "74950000000"}
    async with demo.acquire() as connection:
        identity = await lookup.find_identity(connection, [key])
        context = await lookup._read_context(connection, identity, now=NOW, **where)
        one_identity, one_context = await lookup._read_by_number(connection, key, now=NOW, **where)
        facts, settings = await read_facts(connection, [key], now=NOW, **where)
    assert one_identity == identity
    assert one_context == context
    assert facts.identity == identity  # read_facts takes the one trip for such a caller
    assert settings == context.settings


async def test_a_caller_with_a_keyed_account_still_takes_two_trips(
    demo: asyncpg.Pool,
) -> None:
    """An IVR account or ticket comes first: the number is only the fallback."""
    ivan = CUSTOMERS[0]
    keys = [CallerKey(KeyKind.ACCOUNT, ivan.account), CallerKey(KeyKind.NUMBER, ivan.numbers[0])]
    statements: list[str] = []
    async with demo.acquire() as connection:
        connection.add_query_logger(lambda record: statements.append(record.query))
        facts, _ = await read_facts(
            connection, keys, number=ivan.numbers[0], call_id="c", queue="support",
            did=None, now=NOW,
        )  # fmt: skip
    assert facts.identity.key == keys[0]
    assert len(statements) == 2


async def test_a_caller_known_by_number_takes_one_trip(demo: asyncpg.Pool) -> None:
    number = CUSTOMERS[0].numbers[0]
    statements: list[str] = []
    async with demo.acquire() as connection:
        connection.add_query_logger(lambda record: statements.append(record.query))
        facts, _ = await read_facts(
            connection, [CallerKey(KeyKind.NUMBER, number)], number=number, call_id="c",
            queue="support", did=None, now=NOW,
        )  # fmt: skip
    assert facts.identity.customer is not None
    assert facts.history  # Ivan's calls
    assert len(statements) == 1
