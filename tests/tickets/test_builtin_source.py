"""The product's own tables behind the same TicketSource interface (the default source)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg

from sticky_router.routing_core.model import CallerKey, KeyKind
from sticky_router.routing_core.store.builtin_tickets import BuiltinTicketSource
from sticky_router.routing_core.tickets import TicketStatus
from tests.integration.helpers import add_agents, add_customer

IVAN = "+79123456701"


async def ivan_with_a_ticket_of_agent3(db: asyncpg.Pool) -> None:
    await add_agents(db)
    customer = await add_customer(db, "Ivan Petrov", "100201", IVAN)
    await db.execute(
        "INSERT INTO tickets (external_id, customer_id, subject, status, owner_agent_id, "
        "updated_at) VALUES ('T-1001', $1, 'No internet', 'open', "
        "(SELECT id FROM agents WHERE name = 'agent3'), now() - interval '1 hour'), "
        "('T-0900', $1, 'Old one', 'closed', NULL, now() - interval '1 day')",
        customer,
    )


async def test_lookup_by_each_key_kind(db: asyncpg.Pool) -> None:
    await ivan_with_a_ticket_of_agent3(db)
    source = BuiltinTicketSource(db)
    for key in (
        CallerKey(KeyKind.NUMBER, IVAN),
        CallerKey(KeyKind.ACCOUNT, "100201"),
        CallerKey(KeyKind.TICKET, "T-1001"),
    ):
        found = await source.lookup(key)
        assert found.customer is not None, key
        assert found.customer.phone_numbers == (IVAN,)
        assert [(t.external_id, t.owner_login, t.status) for t in found.tickets] == [
            ("T-1001", "agent3", TicketStatus.OPEN)
        ]
    assert (await source.lookup(CallerKey(KeyKind.NUMBER, "+79990000000"))).customer is None


async def test_changes_since_lists_closed_ones_and_a_full_list_only_open(db: asyncpg.Pool) -> None:
    await ivan_with_a_ticket_of_agent3(db)
    source = BuiltinTicketSource(db)
    assert [c.ticket.external_id for c in await source.changes_since(None)] == ["T-1001"]
    since = datetime.now(UTC) - timedelta(days=2)
    changed = await source.changes_since(since)
    assert [c.ticket.external_id for c in changed] == ["T-0900", "T-1001"]
    assert changed[1].customer.account_number == "100201"
    later = datetime.now(UTC) - timedelta(minutes=30)
    assert await source.changes_since(later) == []
