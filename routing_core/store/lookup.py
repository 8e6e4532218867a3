"""Read the facts the policy needs, in three round trips on one pooled connection.

1. identity: the first key that names someone (keyed ticket, keyed account, caller number);
2. context: the caller's last calls with their legs, the settings rows, pairing bans and blocks;
3. agents: the agents those calls, the ticket owner and the personal manager point at, with
   their sticky load of the last hour.
Each query is an index probe; the JSON is assembled in Postgres so a call costs one row per trip.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from routing_core.model import (
    Agent,
    AgentRole,
    BlockDestinationKind,
    CallerBlock,
    CallerFacts,
    CallerKey,
    Customer,
    HangupSide,
    Identity,
    KeyKind,
    Leg,
    PairingBan,
    PairingKind,
    PastInteraction,
    Ticket,
)
from routing_core.settings import Scope, ScopedValue
from routing_core.store import Connection

# How many past calls the policy looks at: enough for "the newest one in the window" and for
# "the last real conversation", even behind a run of misdials.
HISTORY_DEPTH = 10

_CUSTOMER_JSON = """
    json_build_object('id', c.id, 'name', c.name, 'class_name', c.class_name,
                      'account_number', c.account_number, 'language', c.language,
                      'personal_agent_id', c.personal_agent_id)
"""
_TICKET_JSON = """
    json_build_object('id', t.id, 'external_id', t.external_id, 'customer_id', t.customer_id,
                      'subject', t.subject, 'status', t.status, 'owner_agent_id', t.owner_agent_id,
                      'last_faults', t.last_faults, 'promised_by', t.promised_by,
                      'updated_at', t.updated_at)
"""

_BY_TICKET = f"""
    SELECT json_build_array({_CUSTOMER_JSON}) AS customers, {_TICKET_JSON} AS ticket
    FROM tickets t JOIN customers c ON c.id = t.customer_id
    WHERE t.external_id = $1
"""
_BY_ACCOUNT = f"""
    SELECT json_build_array({_CUSTOMER_JSON}) AS customers, NULL::json AS ticket
    FROM customers c WHERE c.account_number = $1
"""
_BY_NUMBER = f"""
    SELECT coalesce(json_agg({_CUSTOMER_JSON} ORDER BY c.id), '[]') AS customers,
           NULL::json AS ticket
    FROM phone_numbers p JOIN customers c ON c.id = p.customer_id
    WHERE p.e164 = $1
"""
_OPEN_TICKETS = f"""
    SELECT coalesce(json_agg(x.ticket ORDER BY x.updated_at DESC), '[]')
    FROM (SELECT {_TICKET_JSON} AS ticket, t.updated_at
          FROM tickets t
          WHERE t.customer_id = $1 AND t.status IN ('open', 'pending')
          ORDER BY t.updated_at DESC LIMIT 5) x
"""

# $1 ticket id, $2 customer id, $3 number, $4 call to leave out, $5 queue, $6 did, $7 class,
# $8 customer ids for bans and blocks, $9 now, $10 the caller's number for bans and blocks (a
# ban on a number holds even when the caller identified themselves by account).
_CONTEXT = f"""
    WITH recent AS (
        SELECT i.* FROM (
            (SELECT * FROM interactions
             WHERE ticket_id = $1 AND ended_at IS NOT NULL
             ORDER BY ended_at DESC LIMIT {HISTORY_DEPTH})
            UNION
            (SELECT * FROM interactions
             WHERE customer_id = $2 AND ended_at IS NOT NULL
             ORDER BY ended_at DESC LIMIT {HISTORY_DEPTH})
            UNION
            (SELECT * FROM interactions
             WHERE caller_number = $3 AND ended_at IS NOT NULL
             ORDER BY ended_at DESC LIMIT {HISTORY_DEPTH})
        ) i
        WHERE i.call_id <> $4
        ORDER BY i.ended_at DESC LIMIT {HISTORY_DEPTH}
    )
    SELECT
      (SELECT coalesce(json_agg(json_build_object(
                 'id', r.id, 'call_id', r.call_id, 'started_at', r.started_at,
                 'ended_at', r.ended_at, 'hangup_side', r.hangup_side,
                 'legs', (SELECT coalesce(json_agg(json_build_object(
                              'leg_id', l.leg_id, 'agent_id', l.agent_id, 'role', l.role,
                              'rang_at', l.rang_at, 'answered_at', l.answered_at,
                              'ended_at', l.ended_at,
                              'transferred', l.transferred_from_leg_id IS NOT NULL)), '[]')
                          FROM interaction_legs l WHERE l.interaction_id = r.id))
               ORDER BY r.ended_at DESC), '[]')
       FROM recent r) AS history,
      (SELECT coalesce(json_agg(json_build_object(
                 'scope', s.scope_kind, 'scope_value', s.scope_value,
                 'key', s.key, 'value', s.value)), '[]')
       FROM routing_settings s
       WHERE s.scope_kind = 'global'
          OR (s.scope_kind = 'queue' AND s.scope_value = $5)
          OR (s.scope_kind = 'did' AND s.scope_value = $6)
          OR (s.scope_kind = 'customer_class' AND s.scope_value = $7)) AS settings,
      (SELECT coalesce(json_agg(json_build_object(
                 'agent_id', d.agent_id, 'kind', d.kind, 'expires_at', d.expires_at)), '[]')
       FROM do_not_pair d
       WHERE d.status = 'approved' AND (d.expires_at IS NULL OR d.expires_at > $9)
         AND (d.customer_id = ANY($8::bigint[]) OR d.e164 = $10)) AS bans,
      (SELECT json_build_object('destination_kind', b.destination_kind,
                                'destination', b.destination, 'expires_at', b.expires_at)
       FROM caller_blocks b
       WHERE b.status = 'approved' AND b.expires_at > $9
         AND (b.customer_id = ANY($8::bigint[]) OR b.e164 = $10)
       ORDER BY b.set_at DESC LIMIT 1) AS block
"""

_AGENTS = """
    SELECT a.id, a.name, a.display_name, a.endpoint, a.role, a.active,
           (SELECT count(*) FROM sticky_claims c
            WHERE c.agent_id = a.id AND c.claimed_at > $2
              AND (c.outcome IS NULL OR c.outcome = 'answered')) AS sticky_calls
    FROM agents a WHERE a.id = ANY($1::bigint[])
"""


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
    )


async def find_identity(connection: Connection, keys: Sequence[CallerKey]) -> Identity:
    """The first key, strongest first, that names at least one customer wins."""
    for key in keys:
        query = {KeyKind.TICKET: _BY_TICKET, KeyKind.ACCOUNT: _BY_ACCOUNT}.get(key.kind, _BY_NUMBER)
        row = await connection.fetchrow(query, key.value)
        if row is None:
            continue
        customers = tuple(_customer(c) for c in json.loads(row["customers"]))
        if not customers:
            continue
        keyed_ticket = _ticket(json.loads(row["ticket"])) if row["ticket"] else None
        open_tickets: tuple[Ticket, ...] = ()
        if len(customers) == 1:
            raw = await connection.fetchval(_OPEN_TICKETS, customers[0].id)
            open_tickets = tuple(_ticket(t) for t in json.loads(raw))
        # A shared number must never pop one customer's ticket as if it were certain.
        ticket = keyed_ticket or (open_tickets[0] if open_tickets else None)
        return Identity(key=key, customers=customers, ticket=ticket, open_tickets=open_tickets)
    # Nobody known: the number still finds call-based history; an unknown keyed ticket or account
    # is only kept as the key when there is no number at all.
    by_number = [key for key in keys if key.kind is KeyKind.NUMBER]
    fallback = by_number or list(keys)
    return Identity(key=fallback[0] if fallback else None)


async def read_context(
    connection: Connection,
    identity: Identity,
    *,
    number: str | None,
    call_id: str,
    queue: str,
    did: str | None,
    now: datetime,
) -> tuple[
    tuple[PastInteraction, ...], list[ScopedValue], tuple[PairingBan, ...], CallerBlock | None
]:
    customer = identity.customer
    ticket_id = identity.ticket.id if identity.ticket else None
    # A shared number's history is the number's, not any one customer's.
    customer_id = customer.id if customer else None
    keyed_by_number = identity.key is None or identity.key.kind is KeyKind.NUMBER
    history_number = number if customer is None or keyed_by_number else None
    row = await connection.fetchrow(
        _CONTEXT,
        ticket_id,
        customer_id,
        history_number,
        call_id,
        queue,
        did,
        customer.class_name if customer else None,
        [c.id for c in identity.customers],
        now,
        number,
    )
    assert row is not None  # a SELECT of scalar subqueries always returns its one row
    history = tuple(_interaction(i) for i in json.loads(row["history"]))
    settings = [
        ScopedValue(Scope(s["scope"]), s["scope_value"] or None, s["key"], s["value"])
        for s in json.loads(row["settings"])
    ]
    bans = tuple(
        PairingBan(b["agent_id"], PairingKind(b["kind"]), _time(b["expires_at"]))
        for b in json.loads(row["bans"])
    )
    block = None
    if row["block"]:
        raw = json.loads(row["block"])
        block = CallerBlock(
            BlockDestinationKind(raw["destination_kind"]),
            raw["destination"],
            _time(raw["expires_at"]),
        )
    return history, settings, bans, block


async def read_agents(
    connection: Connection, agent_ids: set[int], now: datetime
) -> tuple[dict[int, Agent], dict[int, int]]:
    if not agent_ids:
        return {}, {}
    rows = await connection.fetch(_AGENTS, sorted(agent_ids), now - timedelta(hours=1))
    agents = {
        row["id"]: Agent(
            id=row["id"],
            name=row["name"],
            display_name=row["display_name"],
            endpoint=row["endpoint"],
            role=AgentRole(row["role"]),
            active=row["active"],
        )
        for row in rows
    }
    return agents, {row["id"]: row["sticky_calls"] for row in rows}


async def read_facts(
    connection: Connection,
    keys: Sequence[CallerKey],
    *,
    number: str | None,
    call_id: str,
    queue: str,
    did: str | None,
    now: datetime,
) -> tuple[CallerFacts, list[ScopedValue]]:
    identity = await find_identity(connection, keys)
    history, settings, bans, block = await read_context(
        connection, identity, number=number, call_id=call_id, queue=queue, did=did, now=now
    )
    wanted = {leg.agent_id for interaction in history for leg in interaction.legs}
    if identity.ticket and identity.ticket.owner_agent_id is not None:
        wanted.add(identity.ticket.owner_agent_id)
    if identity.customer and identity.customer.personal_agent_id is not None:
        wanted.add(identity.customer.personal_agent_id)
    agents, load = await read_agents(connection, wanted, now)
    facts = CallerFacts(
        identity=identity,
        history=history,
        agents=agents,
        pairing_bans=bans,
        sticky_calls_last_hour=load,
        caller_block=block,
    )
    return facts, settings
