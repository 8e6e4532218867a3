"""The product's own tables as a ticket source: the default, behind the same interface as an
external system, so the pop and the call reports need not know which one a deployment uses.

The routing lookup reads these tables directly (no mirror: they are local already).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import asyncpg

from sticky_router.routing_core.model import CallerKey, Customer, Ticket
from sticky_router.routing_core.store import Connection
from sticky_router.routing_core.store.lookup import find_identity
from sticky_router.routing_core.tickets import (
    BUILTIN_SOURCE,
    CallReport,
    SourceCustomer,
    SourceTicket,
    TicketChange,
    TicketLookup,
    TicketStatus,
)

_CHANGES = """
    SELECT t.external_id, t.subject, t.status, t.last_faults, t.promised_by, t.updated_at,
           o.name AS owner, c.id AS customer_id, c.name, c.class_name, c.account_number,
           coalesce((SELECT array_agg(p.e164 ORDER BY p.e164) FROM phone_numbers p
                     WHERE p.customer_id = c.id), '{}') AS phones
    FROM tickets t JOIN customers c ON c.id = t.customer_id
    LEFT JOIN agents o ON o.id = t.owner_agent_id
    WHERE ($1::timestamptz IS NULL AND t.status IN ('open', 'pending')) OR t.updated_at >= $1
    ORDER BY t.updated_at
"""


class BuiltinTicketSource:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    @property
    def name(self) -> str:
        return BUILTIN_SOURCE

    async def lookup(self, key: CallerKey) -> TicketLookup:
        async with self._pool.acquire() as connection:
            identity = await find_identity(connection, [key])
            customer = identity.customer
            if customer is None:
                return TicketLookup()
            owners = await self._owner_logins(connection, identity.open_tickets)
            phones = await connection.fetchval(
                "SELECT coalesce(array_agg(e164 ORDER BY e164), '{}') FROM phone_numbers "
                "WHERE customer_id = $1",
                customer.id,
            )
        return TicketLookup(
            customer=_customer(customer, tuple(phones)),
            tickets=tuple(_ticket(t, owners.get(t.owner_agent_id)) for t in identity.open_tickets),
        )

    async def changes_since(self, since: datetime | None) -> Sequence[TicketChange]:
        rows = await self._pool.fetch(_CHANGES, since)
        return [
            TicketChange(
                ticket=SourceTicket(
                    external_id=row["external_id"],
                    status=TicketStatus(row["status"]),
                    subject=row["subject"],
                    updated_at=row["updated_at"],
                    owner_login=row["owner"],
                    last_faults=row["last_faults"],
                    promised_by=row["promised_by"],
                ),
                customer=SourceCustomer(
                    ref=str(row["customer_id"]),
                    name=row["name"],
                    class_name=row["class_name"],
                    account_number=row["account_number"],
                    phone_numbers=tuple(row["phones"]),
                ),
            )
            for row in rows
        ]

    async def record_call(self, report: CallReport) -> None:
        """Nothing to do: the call is already in `interactions`, linked to its ticket, by the
        recorder; the pop and the next callback read it there."""

    @staticmethod
    async def _owner_logins(
        connection: Connection, tickets: Sequence[Ticket]
    ) -> dict[int | None, str]:
        ids = [t.owner_agent_id for t in tickets if t.owner_agent_id is not None]
        rows = await connection.fetch("SELECT id, name FROM agents WHERE id = ANY($1)", ids)
        return {row["id"]: row["name"] for row in rows}


def _customer(customer: Customer, phones: tuple[str, ...]) -> SourceCustomer:
    return SourceCustomer(
        ref=str(customer.id),
        name=customer.name,
        class_name=customer.class_name,
        account_number=customer.account_number,
        phone_numbers=phones,
    )


def _ticket(ticket: Ticket, owner: str | None) -> SourceTicket:
    return SourceTicket(
        external_id=ticket.external_id,
        status=TicketStatus(ticket.status),
        subject=ticket.subject,
        updated_at=ticket.updated_at,
        owner_login=owner,
        last_faults=ticket.last_faults,
        promised_by=ticket.promised_by,
    )
