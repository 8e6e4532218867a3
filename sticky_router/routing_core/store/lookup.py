"""Read the facts the policy needs, on one pooled connection:

1. identity: the first key that names someone (keyed ticket, keyed account, caller number), with
   each customer's open tickets;
2. context: the caller's last calls with their legs, the agents those calls, the ticket owner and
   the personal manager point at (with their sticky load of the last hour), the settings rows,
   pairing bans and blocks.
Two round trips; one for a caller known by number alone with the built-in tickets (most calls),
whose identity and context are one statement. The SQL is in lookup_sql.py.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sticky_router.routing_core.model import (
    Agent,
    AgentRole,
    BlockDestinationKind,
    CallerBlock,
    CallerFacts,
    CallerKey,
    Customer,
    HangupSide,
    Identity,
    Incident,
    KeyKind,
    Leg,
    PairingBan,
    PairingKind,
    PastInteraction,
    Ticket,
)
from sticky_router.routing_core.settings import Scope, ScopedValue
from sticky_router.routing_core.store import Connection
from sticky_router.routing_core.store.lookup_sql import (
    BY_ACCOUNT,
    BY_NUMBER,
    BY_TICKET,
    CONTEXT,
    HISTORY_DEPTH,
    NUMBER_FACTS,
    STICKY_CAP_PERIOD,
)
from sticky_router.routing_core.store.ticket_mirror import find_mirrored

__all__ = ["HISTORY_DEPTH", "STICKY_CAP_PERIOD", "find_identity", "read_facts"]


def _time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value is not None else None


def _customer(row: dict[str, Any]) -> Customer:
    return Customer(
        id=row["id"],
        name=row["name"],
        class_name=row["class_name"],
        account_number=row["account_number"],
        language=row["language"],
        personal_agent_id=row["personal_agent_id"],
    )


def _ticket(row: dict[str, Any]) -> Ticket:
    updated = _time(row["updated_at"])
    assert updated is not None  # NOT NULL column
    return Ticket(
        id=row["id"],
        external_id=row["external_id"],
        customer_id=row["customer_id"],
        subject=row["subject"],
        status=row["status"],
        owner_agent_id=row["owner_agent_id"],
        last_faults=row["last_faults"],
        promised_by=_time(row["promised_by"]),
        updated_at=updated,
    )


def _interaction(row: dict[str, Any]) -> PastInteraction:
    started, ended = _time(row["started_at"]), _time(row["ended_at"])
    # Only finished calls are read, so both ends are there.
    assert started is not None
    assert ended is not None
    legs = tuple(
        Leg(
            leg_id=leg["leg_id"],
            agent_id=leg["agent_id"],
            role=AgentRole(leg["role"]),
            rang_at=_time(leg["rang_at"]),
            answered_at=_time(leg["answered_at"]),
            ended_at=_time(leg["ended_at"]),
            transferred=leg["transferred"],
        )
        for leg in row["legs"]
    )
    side = row["hangup_side"]
    return PastInteraction(
        id=row["id"],
        call_id=row["call_id"],
        started_at=started,
        ended_at=ended,
        legs=legs,
        hangup_side=HangupSide(side) if side else None,
        escalated_queue=row.get("escalated_queue"),
        ticket_resolved=bool(row.get("ticket_resolved")),
    )


@dataclass(frozen=True, slots=True)
class _Context:
    history: tuple[PastInteraction, ...]
    settings: list[ScopedValue]
    bans: tuple[PairingBan, ...]
    block: CallerBlock | None
    agents: dict[int, Agent]
    sticky_calls: dict[int, int]
    incident: Incident | None = None


async def find_identity(
    connection: Connection, keys: Sequence[CallerKey], mirror_source: str | None = None
) -> Identity:
    """The first key, strongest first, that names at least one customer wins. With an external
    ticket source (`mirror_source`), the tickets are that source's, read from its mirror."""
    identity = await _find_local_identity(connection, keys)
    if mirror_source is None:
        return identity
    return await _with_mirrored_tickets(connection, identity, keys, mirror_source)


async def _with_mirrored_tickets(
    connection: Connection, identity: Identity, keys: Sequence[CallerKey], source: str
) -> Identity:
    """The customers stay the product's own (their history, class and personal manager); the
    tickets, their owners and statuses are the source's, as last mirrored."""
    match = await find_mirrored(connection, source, keys)
    if match is None:
        return replace(identity, ticket=None, open_tickets=())
    # A number the source shares between customers (or ours does) never pops one customer's
    # ticket as if it were certain; a keyed ticket or account is certain.
    shared = match.customers > 1 or (identity.ambiguous and match.key.kind is KeyKind.NUMBER)
    tickets = () if shared else match.tickets
    key = identity.key if identity.customers else match.key
    return replace(identity, key=key, ticket=tickets[0] if tickets else None, open_tickets=tickets)


async def _find_local_identity(connection: Connection, keys: Sequence[CallerKey]) -> Identity:
    for key in keys:
        query = {KeyKind.TICKET: BY_TICKET, KeyKind.ACCOUNT: BY_ACCOUNT}.get(key.kind, BY_NUMBER)
        row = await connection.fetchrow(query, key.value)
        if row is None:
            continue
        identity = _identity(key, row["customers"], row["ticket"])
        if identity is not None:
            return identity
    return _nobody(keys)


def _identity(
    key: CallerKey, customers_json: str, keyed_ticket_json: str | None
) -> Identity | None:
    """Who `key` names, from the identity query's JSON; None when it names nobody."""
    found = json.loads(customers_json)
    if not found:
        return None
    customers = tuple(_customer(c) for c in found)
    keyed_ticket = _ticket(json.loads(keyed_ticket_json)) if keyed_ticket_json else None
    # A shared number must never pop one customer's ticket as if it were certain.
    open_tickets: tuple[Ticket, ...] = ()
    if len(customers) == 1:
        open_tickets = tuple(_ticket(t) for t in found[0]["open_tickets"])
    ticket = keyed_ticket or (open_tickets[0] if open_tickets else None)
    return Identity(key=key, customers=customers, ticket=ticket, open_tickets=open_tickets)


def _nobody(keys: Sequence[CallerKey]) -> Identity:
    """Nobody known: the number still finds call-based history; an unknown keyed ticket or
    account is only kept as the key when there is no number at all."""
    by_number = [key for key in keys if key.kind is KeyKind.NUMBER]
    fallback = by_number or list(keys)
    return Identity(key=fallback[0] if fallback else None)


async def _read_context(
    connection: Connection,
    identity: Identity,
    *,
    number: str | None,
    call_id: str,
    queue: str,
    did: str | None,
    now: datetime,
) -> _Context:
    customer = identity.customer
    ticket = identity.ticket
    ticket_row = ticket.local_id if ticket else None  # a mirrored ticket has no calls by id
    # A shared number's history is the number's, not any one customer's.
    keyed_by_number = identity.key is None or identity.key.kind is KeyKind.NUMBER
    history_number = number if customer is None or keyed_by_number else None
    more_agents = [
        agent_id
        for agent_id in (
            ticket.owner_agent_id if ticket else None,
            customer.personal_agent_id if customer else None,
        )
        if agent_id is not None
    ]
    row = await connection.fetchrow(
        CONTEXT,
        ticket_row,
        customer.id if customer else None,
        history_number,
        call_id,
        queue,
        did,
        customer.class_name if customer else None,
        [c.id for c in identity.customers],
        now,
        number,
        more_agents,
        now - STICKY_CAP_PERIOD,
    )
    assert row is not None  # a SELECT of scalar subqueries always returns its one row
    return _context(row)


def _context(row: Any) -> _Context:
    """The context query's one row (CONTEXT's columns, NUMBER_FACTS's too)."""
    block = None
    if row["block"]:
        raw = json.loads(row["block"])
        block = CallerBlock(
            BlockDestinationKind(raw["destination_kind"]),
            raw["destination"],
            _time(raw["expires_at"]),
        )
    agents = json.loads(row["agents"])
    declared = json.loads(row["incident"]) if row["incident"] else None
    return _Context(
        history=tuple(_interaction(i) for i in json.loads(row["history"])),
        settings=[
            ScopedValue(Scope(s["scope"]), s["scope_value"] or None, s["key"], s["value"])
            for s in json.loads(row["settings"])
        ],
        bans=tuple(
            PairingBan(b["agent_id"], PairingKind(b["kind"]), _time(b["expires_at"]))
            for b in json.loads(row["bans"])
        ),
        block=block,
        agents={a["id"]: _agent(a) for a in agents},
        sticky_calls={a["id"]: a["sticky_calls"] for a in agents},
        incident=Incident(declared["id"], declared["announce_sound"]) if declared else None,
    )


async def _read_by_number(
    connection: Connection,
    key: CallerKey,
    *,
    number: str | None,
    call_id: str,
    queue: str,
    did: str | None,
    now: datetime,
) -> tuple[Identity, _Context]:
    """Identity and context of a caller known by number alone, in one round trip: what
    find_identity and _read_context give for the same key, in one statement."""
    row = await connection.fetchrow(
        NUMBER_FACTS, key.value, number, call_id, queue, did, now, now - STICKY_CAP_PERIOD
    )
    assert row is not None  # scalar subqueries: one row
    return _identity(key, row["customers"], None) or _nobody([key]), _context(row)


def _agent(row: dict[str, Any]) -> Agent:
    return Agent(
        id=row["id"],
        name=row["name"],
        display_name=row["display_name"],
        endpoint=row["endpoint"],
        role=AgentRole(row["role"]),
        active=row["active"],
        last_talk_ended_at=_time(row.get("last_talk_ended_at")),
        queue_interface=row.get("queue_interface"),
        state_interface=row.get("state_interface"),
        devices=tuple(row.get("devices") or ()),
    )


async def read_facts(
    connection: Connection,
    keys: Sequence[CallerKey],
    *,
    number: str | None,
    call_id: str,
    queue: str,
    did: str | None,
    now: datetime,
    mirror_source: str | None = None,
) -> tuple[CallerFacts, list[ScopedValue]]:
    if mirror_source is None and [key.kind for key in keys] == [KeyKind.NUMBER]:
        identity, context = await _read_by_number(
            connection, keys[0], number=number, call_id=call_id, queue=queue, did=did, now=now
        )
    else:
        identity = await find_identity(connection, keys, mirror_source)
        context = await _read_context(
            connection, identity, number=number, call_id=call_id, queue=queue, did=did, now=now
        )
    facts = CallerFacts(
        identity=identity,
        history=context.history,
        agents=context.agents,
        pairing_bans=context.bans,
        sticky_calls_last_hour=context.sticky_calls,
        caller_block=context.block,
        incident=context.incident,
    )
    return facts, context.settings
