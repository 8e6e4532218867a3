"""The SQL of the facts lookup (lookup.py): who the caller is, and the context the policy needs.

Each part is an index probe, and the JSON is assembled in PostgreSQL so a trip returns one row.
CONTEXT takes what the identity found as parameters; NUMBER_FACTS is the identity by caller
number and that context in one statement, for the caller known by number alone (most calls),
which saves a round trip to PostgreSQL on the caller's way to an agent.
"""

from __future__ import annotations

import re
from datetime import timedelta

from sticky_router.routing_core.store.agent_talk import LAST_TALK_ENDED

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

TICKET_JSON = """
    json_build_object('id', t.id, 'external_id', t.external_id, 'customer_id', t.customer_id,
                      'subject', t.subject, 'status', t.status, 'owner_agent_id', t.owner_agent_id,
                      'last_faults', t.last_faults, 'promised_by', t.promised_by,
                      'updated_at', t.updated_at)
"""
CUSTOMER_JSON = f"""
    json_build_object('id', c.id, 'name', c.name, 'class_name', c.class_name,
                      'account_number', c.account_number, 'language', c.language,
                      'personal_agent_id', c.personal_agent_id,
                      'open_tickets', (
                          SELECT coalesce(json_agg(x.ticket ORDER BY x.updated_at DESC), '[]')
                          FROM (SELECT {TICKET_JSON} AS ticket, t.updated_at FROM tickets t
                                WHERE t.customer_id = c.id AND t.status IN ('open', 'pending')
                                ORDER BY t.updated_at DESC LIMIT {OPEN_TICKETS_SHOWN}) x))
"""

BY_TICKET = f"""
    SELECT json_build_array({CUSTOMER_JSON}) AS customers, {TICKET_JSON} AS ticket
    FROM tickets t JOIN customers c ON c.id = t.customer_id
    WHERE t.external_id = $1
"""
BY_ACCOUNT = f"""
    SELECT json_build_array({CUSTOMER_JSON}) AS customers, NULL::json AS ticket
    FROM customers c WHERE c.account_number = $1
"""
BY_NUMBER = f"""
    SELECT coalesce(json_agg({CUSTOMER_JSON} ORDER BY c.id), '[]') AS customers,
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
CONTEXT = f"""
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

# NUMBER_FACTS: $1 the number key, $2 the caller's number (history, bans, blocks), $3 the call to
# leave out, $4 queue, $5 did, $6 now, $7 the start of the sticky cap's hour. What CONTEXT takes
# as parameters from the identity is read from the identity's own JSON (so the ticket is the one
# lookup.py picks from that JSON: the single customer's most recently updated open ticket).
_FROM_IDENTITY = {
    1: "(SELECT (ticket->>'id')::bigint FROM one)",
    2: "(SELECT (customer->>'id')::bigint FROM one)",
    3: "$2",
    4: "$3",
    5: "$4",
    6: "$5",
    7: "(SELECT customer->>'class_name' FROM one)",
    8: "ARRAY(SELECT (c->>'id')::bigint FROM ident, json_array_elements(ident.customers) c)",
    9: "$6",
    10: "$2",
    11: """ARRAY(SELECT agent FROM one, LATERAL (VALUES ((ticket->>'owner_agent_id')::bigint),
                 ((customer->>'personal_agent_id')::bigint)) v(agent)
           WHERE agent IS NOT NULL)""",
    12: "$7",
}
_CONTEXT_PARTS = re.sub(r"\$(\d+)", lambda found: _FROM_IDENTITY[int(found[1])], CONTEXT)
# CONTEXT is `WITH <its CTEs> SELECT <its columns>`: NUMBER_FACTS puts the identity's CTEs first.
_CONTEXT_CTES, _SELECT, _CONTEXT_COLUMNS = (
    _CONTEXT_PARTS.strip().removeprefix("WITH").partition("\n    SELECT\n")
)
if not _SELECT:
    raise RuntimeError("CONTEXT's SELECT moved: NUMBER_FACTS cannot be built from it")
NUMBER_FACTS = f"""
    WITH ident AS ({BY_NUMBER}),
    one AS (  -- the customer when the number names exactly one, with their newest open ticket
        SELECT customers->0 AS customer, customers->0->'open_tickets'->0 AS ticket
        FROM ident WHERE json_array_length(customers) = 1
    ),
    {_CONTEXT_CTES}
    SELECT (SELECT customers FROM ident) AS customers,
{_CONTEXT_COLUMNS}"""
