"""Read the facts the policy needs, in two round trips on one pooled connection.

1. identity: the first key that names someone (keyed ticket, keyed account, caller number), with
   each customer's open tickets;
2. context: the caller's last calls with their legs, the agents those calls, the ticket owner and
   the personal manager point at (with their sticky load of the last hour), the settings rows,
   pairing bans and blocks.
Each part is an index probe; the JSON is assembled in Postgres so a trip costs one row.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
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
from sticky_router.routing_core.store.agent_talk import LAST_TALK_ENDED
from sticky_router.routing_core.store.ticket_mirror import find_mirrored

# How many past calls the policy looks at: enough for "the newest one in the window" and for
# "the last real conversation", even behind a run of misdials.
HISTORY_DEPTH = 5
# Only calls where someone answered or a transfer began count as history: a caller who gave up
# in the queue five times must still reach the agent they spoke with before (and the specialist
# they were being handed to). The policy applies the minimum talk time to what is left. A
# consultation that never became a handover (the colleague declined) is not history at all: the
# caller never talked with that colleague and was not waiting for them.
_SPOKE = """EXISTS (SELECT 1 FROM interaction_legs spoke
               WHERE spoke.interaction_id = interactions.id AND NOT spoke.consultation
               AND (spoke.answered_at IS NOT NULL OR spoke.transferred_from_leg_id IS NOT NULL))"""
STICKY_CAP_PERIOD = timedelta(hours=1)

OPEN_TICKETS_SHOWN = 5

_TICKET_JSON = """
    json_build_object('id', t.id, 'external_id', t.external_id, 'customer_id', t.customer_id,
                      'subject', t.subject, 'status', t.status, 'owner_agent_id', t.owner_agent_id,
                      'last_faults', t.last_faults, 'promised_by', t.promised_by,
                      'updated_at', t.updated_at)
"""
_CUSTOMER_JSON = f"""
    json_build_object('id', c.id, 'name', c.name, 'class_name', c.class_name,
                      'account_number', c.account_number, 'language', c.language,
                      'personal_agent_id', c.personal_agent_id,
                      'open_tickets', (
                          SELECT coalesce(json_agg(x.ticket ORDER BY x.updated_at DESC), '[]')
                          FROM (SELECT {_TICKET_JSON} AS ticket, t.updated_at FROM tickets t
                                WHERE t.customer_id = c.id AND t.status IN ('open', 'pending')
                                ORDER BY t.updated_at DESC LIMIT {OPEN_TICKETS_SHOWN}) x))
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
# Only what the policy reads: the UNION below de-duplicates whole rows, so narrow rows are cheap.
_HISTORY_COLUMNS = "id, call_id, started_at, ended_at, hangup_side, escalated_queue, ticket_id"

# $1 ticket id, $2 customer id, $3 number, $4 call to leave out, $5 queue, $6 did, $7 class,
# $8 customer ids for bans and blocks, $9 now, $10 the caller's number for bans and blocks (a
# ban on a number holds even when the caller identified themselves by account), $11 more agents
# to read (ticket owner, personal manager), $12 the start of the sticky cap's hour.
_CONTEXT = f"""
    WITH recent AS (
        SELECT i.* FROM (
            (SELECT {_HISTORY_COLUMNS} FROM interactions
             WHERE ticket_id = $1 AND ended_at IS NOT NULL AND {_SPOKE}
             ORDER BY ended_at DESC LIMIT {HISTORY_DEPTH})
            UNION
            (SELECT {_HISTORY_COLUMNS} FROM interactions
             WHERE customer_id = $2 AND ended_at IS NOT NULL AND {_SPOKE}
             ORDER BY ended_at DESC LIMIT {HISTORY_DEPTH})
            UNION
            (SELECT {_HISTORY_COLUMNS} FROM interactions
             WHERE caller_number = $3 AND ended_at IS NOT NULL AND {_SPOKE}
             ORDER BY ended_at DESC LIMIT {HISTORY_DEPTH})
        ) i
        WHERE i.call_id <> $4
        ORDER BY i.ended_at DESC LIMIT {HISTORY_DEPTH}
    ),
    legs AS (  -- read once: the history and the agents below both need them
        SELECT l.interaction_id, l.leg_id, l.agent_id, l.role, l.rang_at, l.answered_at,
               l.ended_at, l.transferred_from_leg_id
        FROM interaction_legs l
        WHERE l.interaction_id IN (SELECT id FROM recent) AND NOT l.consultation
    )
    SELECT
      (SELECT coalesce(json_agg(json_build_object(
                 'id', r.id, 'call_id', r.call_id, 'started_at', r.started_at,
                 'ended_at', r.ended_at, 'hangup_side', r.hangup_side,
                 'escalated_queue', r.escalated_queue,
                 'ticket_resolved', EXISTS (SELECT 1 FROM tickets t WHERE t.id = r.ticket_id
                                              AND t.status IN ('resolved', 'closed')),
                 'legs', (SELECT coalesce(json_agg(json_build_object(
                              'leg_id', l.leg_id, 'agent_id', l.agent_id, 'role', l.role,
                              'rang_at', l.rang_at, 'answered_at', l.answered_at,
                              'ended_at', l.ended_at,
                              'transferred', l.transferred_from_leg_id IS NOT NULL)), '[]')
                          FROM legs l WHERE l.interaction_id = r.id))
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
       ORDER BY b.set_at DESC LIMIT 1) AS block,
      (SELECT json_build_object('id', n.id, 'announce_sound', n.announce_sound)
       FROM incidents n
       WHERE n.ended_at IS NULL AND n.started_at <= $9
         AND (n.scope_kind = 'global' OR (n.scope_kind = 'queue' AND n.scope_value = $5)
              OR (n.scope_kind = 'did' AND n.scope_value = $6))
       ORDER BY n.scope_kind = 'global', n.started_at DESC LIMIT 1) AS incident,
      (SELECT coalesce(json_agg(json_build_object(
                 'id', a.id, 'name', a.name, 'display_name', a.display_name,
                 'endpoint', a.endpoint, 'role', a.role, 'active', a.active,
                 'queue_interface', a.queue_interface, 'state_interface', a.state_interface,
                 'devices', a.devices,
                 'sticky_calls', (SELECT count(*) FROM sticky_claims c
                                  WHERE c.agent_id = a.id AND c.claimed_at > $12
                                    AND (c.outcome IS NULL OR c.outcome = 'answered')),
                 'last_talk_ended_at', {LAST_TALK_ENDED})),
               '[]')
       FROM agents a
       WHERE a.id = ANY($11::bigint[])
          OR a.id IN (SELECT l.agent_id FROM legs l)) AS agents
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
        query = {KeyKind.TICKET: _BY_TICKET, KeyKind.ACCOUNT: _BY_ACCOUNT}.get(key.kind, _BY_NUMBER)
        row = await connection.fetchrow(query, key.value)
        if row is None:
            continue
        found = json.loads(row["customers"])
        if not found:
            continue
        customers = tuple(_customer(c) for c in found)
        keyed_ticket = _ticket(json.loads(row["ticket"])) if row["ticket"] else None
        # A shared number must never pop one customer's ticket as if it were certain.
        open_tickets: tuple[Ticket, ...] = ()
        if len(customers) == 1:
            open_tickets = tuple(_ticket(t) for t in found[0]["open_tickets"])
        ticket = keyed_ticket or (open_tickets[0] if open_tickets else None)
        return Identity(key=key, customers=customers, ticket=ticket, open_tickets=open_tickets)
    # Nobody known: the number still finds call-based history; an unknown keyed ticket or account
    # is only kept as the key when there is no number at all.
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
        _CONTEXT,
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
