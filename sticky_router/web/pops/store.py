"""Reading what a pop shows from Postgres, by call id, for one agent.

Everything comes from the interaction row the router wrote at routing time (route, reason, key,
customer, ticket, what the caller keyed in the IVR) and what hangs off the caller: their open
tickets, previous calls with their notes, do-not-pair and abuse marks, blocks, and for a shared
number the candidate customers. `web.pop_view` turns these facts into the pop, in words.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import asyncpg

from sticky_router.routing_core.model import CallerKey, KeyKind
from sticky_router.routing_core.store import Connection
from sticky_router.routing_core.ticket_details import LiveTicketDetails
from sticky_router.web.auth.sessions import Principal
from sticky_router.web.pops.call_access import may_access
from sticky_router.web.pops.hub import Pop
from sticky_router.web.pops.notices import AGENT_POP
from sticky_router.web.pops.view import build_pop
from sticky_router.web.settings import WebSettings

Row = dict[str, Any]
HISTORY_SHOWN = 5
TICKETS_SHOWN = 5
# A pop is "current" (shown again when the page reconnects) while its call and the agent's leg
# are up, and at most this long after the ring.
CURRENT_FOR = timedelta(hours=2)
# For callers that read a pop while it rings (the dispatcher): the window is then the ring's.
DEFAULT_ACCESS = WebSettings().agent_access


@dataclass
class PopFacts:
    interaction: Row
    agent_id: int
    rang_at: datetime
    source: str
    transferred_by: str | None = None
    candidates: list[Row] = field(default_factory=list)
    tickets: list[Row] = field(default_factory=list)
    history: list[Row] = field(default_factory=list)
    marks: list[Row] = field(default_factory=list)
    notes: list[Row] = field(default_factory=list)
    # An external ticket source was asked for the tickets and did not answer in time.
    tickets_unavailable: bool = False


class NotYourCall(LookupError):
    """The call never rang this agent, or its access window has closed, or it does not exist:
    the same answer for all three."""


_INTERACTION = """
    SELECT i.id, i.call_id, i.caller_number, i.key_kind, i.key_value, i.customer_id, i.ticket_id,
           i.queue, i.did, i.started_at, i.answered_at, i.ended_at, i.route, i.route_reason,
           i.target_agent_id, i.outcome, i.outcome_reason, i.ivr_account, i.ivr_ticket,
           i.ivr_menu, i.ticket_ref,
           c.name AS customer_name, c.class_name, c.account_number, c.language AS customer_language,
           pm.display_name AS personal_manager
    FROM interactions i
    LEFT JOIN customers c ON c.id = i.customer_id
    LEFT JOIN agents pm ON pm.id = c.personal_agent_id
    WHERE i.call_id = $1
"""

_TICKETS = """
    SELECT t.id, t.external_id, t.subject, t.status, t.last_faults, t.promised_by, t.updated_at,
           t.owner_agent_id, o.display_name AS owner
    FROM tickets t LEFT JOIN agents o ON o.id = t.owner_agent_id
    WHERE (t.customer_id = $1 AND t.status IN ('open', 'pending')) OR t.id = $2
    ORDER BY t.id = $2 DESC, t.updated_at DESC
    LIMIT $3
"""

# Previous calls of the same customer (or, unknown customer, the same number), newest first,
# with the agents who rang or talked, and the notes written about them.
_HISTORY = """
    SELECT i.id, i.started_at, i.answered_at, i.ended_at, i.hangup_side, i.route, i.outcome,
           i.note,
           coalesce((SELECT json_agg(json_build_object(
                        'agent_id', l.agent_id, 'agent', a.display_name,
                        'answered_at', l.answered_at, 'ended_at', l.ended_at,
                        'transferred', l.transferred_from_leg_id IS NOT NULL,
                        'hangup_side', l.hangup_side) ORDER BY l.rang_at NULLS LAST, l.id)
                     FROM interaction_legs l JOIN agents a ON a.id = l.agent_id
                     WHERE l.interaction_id = i.id), '[]') AS legs,
           coalesce((SELECT json_agg(json_build_object(
                        'by', a.display_name, 'body', n.body, 'at', n.created_at)
                        ORDER BY n.created_at)
                     FROM interaction_notes n JOIN agents a ON a.id = n.agent_id
                     WHERE n.interaction_id = i.id), '[]') AS notes
    FROM interactions i
    WHERE i.call_id <> $3 AND i.started_at < $4
      AND (($1::bigint IS NOT NULL AND i.customer_id = $1)
           OR ($1::bigint IS NULL AND $2::text IS NOT NULL AND i.caller_number = $2))
    ORDER BY i.started_at DESC
    LIMIT $5
"""

_MARKS = """
    SELECT 'pairing' AS what, d.kind, d.reason, d.status, a.display_name AS agent,
           d.agent_id, d.expires_at
    FROM do_not_pair d JOIN agents a ON a.id = d.agent_id
    WHERE d.status IN ('approved', 'pending') AND (d.expires_at IS NULL OR d.expires_at > $3)
      AND ((d.customer_id IS NOT NULL AND d.customer_id = $1)
           OR (d.e164 IS NOT NULL AND d.e164 = $2))
    UNION ALL
    SELECT 'block', b.destination_kind, b.reason, b.status, NULL, NULL, b.expires_at
    FROM caller_blocks b
    WHERE b.status IN ('approved', 'pending') AND b.expires_at > $3
      AND ((b.customer_id IS NOT NULL AND b.customer_id = $1)
           OR (b.e164 IS NOT NULL AND b.e164 = $2))
    UNION ALL
    -- Warnings agents gave this caller for their conduct (agent_actions, so the retention and
    -- erasure of agents' actions cover them too).
    SELECT 'warnings', NULL, count(*)::text, 'approved', NULL, NULL, max(x.at)
    FROM agent_actions x JOIN interactions i ON i.id = x.interaction_id
    WHERE x.action = 'warning'
      AND (($1::bigint IS NOT NULL AND i.customer_id = $1)
           OR ($1::bigint IS NULL AND i.caller_number = $2))
    HAVING count(*) > 0
"""

_CANDIDATES = """
    SELECT c.id, c.name, c.account_number, c.class_name
    FROM phone_numbers p JOIN customers c ON c.id = p.customer_id
    WHERE p.e164 = $1
    ORDER BY c.name
"""

_NOTES = """
    SELECT a.display_name AS by, n.body, n.created_at AS at
    FROM interaction_notes n JOIN agents a ON a.id = n.agent_id
    WHERE n.interaction_id = $1
    ORDER BY n.created_at
"""

_RING = """
    SELECT p.rang_at, p.source,
           (SELECT fa.display_name FROM interaction_legs l
              JOIN interaction_legs f ON f.interaction_id = l.interaction_id
                                     AND f.leg_id = l.transferred_from_leg_id
              JOIN agents fa ON fa.id = f.agent_id
            WHERE l.interaction_id = $3 AND l.agent_id = $2
            ORDER BY l.rang_at DESC NULLS LAST LIMIT 1) AS transferred_by
    FROM agent_pops p WHERE p.call_id = $1 AND p.agent_id = $2
"""


_LEG = """
    SELECT coalesce(l.rang_at, i.started_at) AS rang_at,
           CASE WHEN l.transferred_from_leg_id IS NULL THEN 'queue' ELSE 'transfer' END AS source,
           fa.display_name AS transferred_by
    FROM interaction_legs l
    JOIN interactions i ON i.id = l.interaction_id
    LEFT JOIN interaction_legs f ON f.interaction_id = l.interaction_id
                                AND f.leg_id = l.transferred_from_leg_id
    LEFT JOIN agents fa ON fa.id = f.agent_id
    WHERE l.interaction_id = $1 AND l.agent_id = $2
    ORDER BY l.rang_at DESC NULLS LAST LIMIT 1
"""


async def interaction_ready(pool: asyncpg.Pool, call_id: str) -> bool:
    """The router has written the call's decision (what the pop's first line says)."""
    found = await pool.fetchval(
        "SELECT route IS NOT NULL FROM interactions WHERE call_id = $1", call_id
    )
    return bool(found)


async def record_ring(
    pool: asyncpg.Pool, call_id: str, agent_id: int, at: datetime, source: str, origin: str = ""
) -> bool:
    """The first report of this ring (ARI and AMI may both report it): whether this was it.
    The first report also tells every router process (web/pops/notices.py AGENT_POP), with
    `origin` naming the one that made it, so another router's screens get the pop too."""
    # AMI often reports the sticky leg before the ARI app does: the router's decision says which
    # ring it was. A CTE not referenced is never run: the count is what makes the notice happen.
    inserted = await pool.fetchval(
        """
        WITH inserted AS (
            INSERT INTO agent_pops (call_id, agent_id, rang_at, source)
            SELECT $1, $2, $3,
                   CASE WHEN $4 = 'queue' AND i.route = 'sticky' AND i.target_agent_id = $2
                        THEN 'sticky' ELSE $4 END
            FROM interactions i WHERE i.call_id = $1
            ON CONFLICT (call_id, agent_id) DO NOTHING
            RETURNING call_id, agent_id, rang_at
        ), told AS (
            SELECT pg_notify($6, json_build_object(
                       'origin', $5::text, 'agent_id', agent_id, 'call_id', call_id,
                       'rang_at', rang_at)::text)
            FROM inserted
        )
        SELECT count(*) > 0 FROM told
        """,
        call_id,
        agent_id,
        at,
        source,
        origin,
        AGENT_POP,
    )
    return bool(inserted)


async def load_facts(
    pool: asyncpg.Pool,
    call_id: str,
    agent_id: int,
    now: datetime,
    access: timedelta = DEFAULT_ACCESS,
    details: LiveTicketDetails | None = None,
) -> PopFacts:
    """Everything the pop shows; NotYourCall unless this call is in the agent's access window
    (web/pops/call_access.py) - the same answer as for a call that never rang them."""
    async with pool.acquire() as connection:
        interaction = await connection.fetchrow(_INTERACTION, call_id)
        if interaction is None:
            raise NotYourCall(call_id)
        if not await may_access(connection, interaction["id"], call_id, agent_id, now, access):
            raise NotYourCall(call_id)
        ring = await connection.fetchrow(_RING, call_id, agent_id, interaction["id"])
        if ring is None:  # no pop was made (the web was down), but the agent's phone rang
            ring = await connection.fetchrow(_LEG, interaction["id"], agent_id)
        if ring is None:
            raise NotYourCall(call_id)
        facts = PopFacts(
            dict(interaction), agent_id, ring["rang_at"], ring["source"], ring["transferred_by"]
        )
        customer_id, number = interaction["customer_id"], interaction["caller_number"]
        if customer_id is None and number is not None:
            candidates = await connection.fetch(_CANDIDATES, number)
            facts.candidates = [dict(row) for row in candidates] if len(candidates) > 1 else []
        if details is not None:
            await _live_tickets(connection, facts, details)
        elif customer_id is not None:
            rows = await connection.fetch(
                _TICKETS, customer_id, interaction["ticket_id"], TICKETS_SHOWN
            )
            facts.tickets = [dict(row) for row in rows]
        history = await connection.fetch(
            _HISTORY, customer_id, number, call_id, interaction["started_at"], HISTORY_SHOWN
        )
        facts.history = [dict(row) for row in history]
        if customer_id is not None or number is not None:
            facts.marks = [
                dict(row) for row in await connection.fetch(_MARKS, customer_id, number, now)
            ]
        facts.notes = [dict(row) for row in await connection.fetch(_NOTES, interaction["id"])]
    return facts


async def _live_tickets(
    connection: Connection, facts: PopFacts, details: LiveTicketDetails
) -> None:
    """An external source's tickets, asked live (with its hard timeout and cache): the ticket the
    call was routed with, else the caller key the router used. Never the built-in tables' rows:
    with an external source they are not the truth."""
    call = facts.interaction
    if call.get("ticket_ref"):
        key = CallerKey(KeyKind.TICKET, call["ticket_ref"])
    elif call.get("key_kind") and call.get("key_value"):
        key = CallerKey(KeyKind(call["key_kind"]), call["key_value"])
    else:
        return
    found = await details.lookup(key)
    if found is None:
        facts.tickets_unavailable = True
        return
    logins = [t.owner_login for t in found.tickets if t.owner_login]
    names = {
        row["name"]: row["display_name"]
        for row in await connection.fetch(
            "SELECT name, display_name FROM agents WHERE name = ANY($1::text[])", logins
        )
    }
    facts.tickets = [
        {
            "id": None,  # no row in `tickets`
            "external_id": t.external_id,
            "subject": t.subject,
            "status": t.status.value,
            "last_faults": t.last_faults,
            "promised_by": t.promised_by,
            "updated_at": t.updated_at,
            "owner": names.get(t.owner_login or "", t.owner_login),
            "link": t.link,
            "of_this_call": t.external_id == call.get("ticket_ref"),
        }
        for t in found.tickets[:TICKETS_SHOWN]
    ]


async def load_pop(
    pool: asyncpg.Pool,
    call_id: str,
    agent_id: int,
    language: str,
    now: datetime,
    access: timedelta = DEFAULT_ACCESS,
    details: LiveTicketDetails | None = None,
) -> Pop:
    facts = await load_facts(pool, call_id, agent_id, now, access, details)
    return build_pop(facts, language, now)


async def current_pops(
    pool: asyncpg.Pool,
    agent: Principal,
    now: datetime,
    access: timedelta = DEFAULT_ACCESS,
    details: LiveTicketDetails | None = None,
) -> list[Pop]:
    """The agent's pops for calls still ringing or talking to them (newest last), so a page that
    (re)connects shows what it missed; a ring a colleague answered is not among them (its
    window has closed, web/pops/call_access.py)."""
    rows = await pool.fetch(
        """
        SELECT p.call_id FROM agent_pops p JOIN interactions i ON i.call_id = p.call_id
        WHERE p.agent_id = $1 AND p.rang_at > $2 AND i.ended_at IS NULL
          AND NOT EXISTS (SELECT 1 FROM interaction_legs l
                          WHERE l.interaction_id = i.id AND l.agent_id = $1
                            AND l.ended_at IS NOT NULL)
        ORDER BY p.rang_at DESC LIMIT 3
        """,
        agent.id,
        now - CURRENT_FOR,
    )
    pops = []
    for row in reversed(rows):
        try:
            pops.append(
                await load_pop(pool, row["call_id"], agent.id, agent.language, now, access, details)
            )
        except NotYourCall:
            continue
    return pops
