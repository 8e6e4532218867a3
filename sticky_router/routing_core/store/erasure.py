"""Erasure of one customer's personal data ("forget me"), in one transaction, audited.

What goes: the customer row, their phone numbers, their tickets (subjects and fault text), the
notes, action trail and pops of their calls, do-not-pair and block rows on them or on a number
only they had. Their calls stay, countable for reports, with everything that named the caller
emptied: customer, ticket, caller number, the key and what was keyed in the IVR, the note.

A number shared with another customer is that customer's too: its calls that no customer was
attached to, and the flags on it, stay. A key that names several customers erases nothing: the
operator must say which one (by id). The audit row says who, when, by which kind of key and how
many rows of each kind, never the erased data itself.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import asyncpg

from sticky_router.routing_core.store import Connection

KeyKind = Literal["id", "name", "number", "account"]
# A case reference of the requester's system (e.g. DPO-2026-0042): never free text, which could
# carry the very data being erased.
REFERENCE = re.compile(r"[A-Za-z0-9_.:/-]{1,64}")

_FIND: dict[KeyKind, str] = {
    "id": "SELECT id FROM customers WHERE id = $1::text::bigint",
    "name": "SELECT id FROM customers WHERE name = $1",
    "account": "SELECT id FROM customers WHERE account_number = $1",
    "number": "SELECT customer_id AS id FROM phone_numbers WHERE e164 = $1",
}

# The customer's numbers that no other customer has: only those are theirs alone to erase.
_OWN_NUMBERS = """
    SELECT p.e164 FROM phone_numbers p
    WHERE p.customer_id = $1
      AND NOT EXISTS (SELECT 1 FROM phone_numbers o
                      WHERE o.e164 = p.e164 AND o.customer_id <> p.customer_id)
"""

# Their calls: attached to them, or attached to nobody but linked to their tickets or made
# from a number, account or ticket that was theirs alone. (Another customer's call that was
# linked to one of their tickets only loses the link: the ticket's deletion sets it to NULL.)
# Rare and operator-run, so a scan of interactions is acceptable here.
_CALLS = """
    SELECT id, call_id FROM interactions
    WHERE customer_id = $1
       OR (customer_id IS NULL
           AND (ticket_id = ANY($2::bigint[]) OR caller_number = ANY($3::text[])
                OR key_value = ANY($4::text[]) OR ivr_account = $5
                OR ivr_ticket = ANY($6::text[])))
    FOR UPDATE
"""

_ANONYMISE_CALLS = """
    UPDATE interactions
    SET customer_id = NULL, ticket_id = NULL, caller_number = NULL, key_value = NULL,
        ivr_account = NULL, ivr_ticket = NULL, note = NULL, ticket_ref = NULL
    WHERE id = ANY($1::bigint[])
"""


class ErasureRefused(LookupError):
    """Nothing was erased; the message says why, for the operator."""


@dataclass(frozen=True, slots=True)
class ErasureKey:
    kind: KeyKind
    value: str  # a number in E.164, as phone_numbers stores it


async def _count(connection: Connection, statement: str, *args: object) -> int:
    status: str = await connection.execute(statement, *args)
    return int(status.split()[-1])


async def find_customer(connection: Connection, key: ErasureKey) -> int:
    """The one customer the key names, or ErasureRefused (nobody, or several)."""
    if key.kind == "id" and not (key.value.isdigit() and len(key.value) <= 18):
        raise ErasureRefused("a customer id is a number")
    rows = await connection.fetch(_FIND[key.kind], key.value)
    ids: list[int] = sorted({row["id"] for row in rows})
    if not ids:
        raise ErasureRefused(f"no customer has this {key.kind}; nothing was erased")
    if len(ids) > 1:
        listed = ", ".join(str(customer_id) for customer_id in ids)
        raise ErasureRefused(
            f"{len(ids)} customers have this {key.kind} (ids {listed}); nothing was erased: "
            "say which one with its id"
        )
    return ids[0]


async def forget_customer(
    pool: asyncpg.Pool,
    key: ErasureKey,
    *,
    actor: str,
    now: datetime,
    reference: str | None = None,
) -> dict[str, int]:
    """Erase the customer the key names; rows erased (or emptied, for calls) by kind."""
    if reference is not None and not REFERENCE.fullmatch(reference):
        raise ErasureRefused("the reference is letters, digits and _ . : / - (at most 64)")
    async with pool.acquire() as connection, connection.transaction():
        customer_id = await find_customer(connection, key)
        account = await connection.fetchval(
            "SELECT account_number FROM customers WHERE id = $1 FOR UPDATE", customer_id
        )
        numbers = [row["e164"] for row in await connection.fetch(_OWN_NUMBERS, customer_id)]
        tickets = await connection.fetch(
            "SELECT id, external_id FROM tickets WHERE customer_id = $1", customer_id
        )
        ticket_ids = [row["id"] for row in tickets]
        ticket_refs = [row["external_id"] for row in tickets]
        keyed = [*numbers, *ticket_refs, *([account] if account else [])]
        calls = await connection.fetch(
            _CALLS, customer_id, ticket_ids, numbers, keyed, account, ticket_refs
        )
        call_ids = [row["id"] for row in calls]
        erased = {
            "notes": await _count(
                connection,
                "DELETE FROM interaction_notes WHERE interaction_id = ANY($1::bigint[])",
                call_ids,
            ),
            "actions": await _count(
                connection,
                "DELETE FROM agent_actions WHERE interaction_id = ANY($1::bigint[])",
                call_ids,
            ),
            "pops": await _count(
                connection,
                "DELETE FROM agent_pops WHERE call_id = ANY($1::text[])",
                [row["call_id"] for row in calls],
            ),
            "calls": await _count(connection, _ANONYMISE_CALLS, call_ids),
            "do_not_pair": await _count(
                connection,
                "DELETE FROM do_not_pair WHERE customer_id = $1 OR e164 = ANY($2::text[])",
                customer_id,
                numbers,
            ),
            "caller_blocks": await _count(
                connection,
                "DELETE FROM caller_blocks WHERE customer_id = $1 OR e164 = ANY($2::text[])",
                customer_id,
                numbers,
            ),
            "callbacks": await _count(
                connection,
                "DELETE FROM callbacks WHERE customer_id = $1 OR number = ANY($2::text[])",
                customer_id,
                numbers,
            ),
            "tickets": await _count(
                connection, "DELETE FROM tickets WHERE customer_id = $1", customer_id
            ),
            "phone_numbers": await _count(
                connection, "DELETE FROM phone_numbers WHERE customer_id = $1", customer_id
            ),
            "customers": await _count(
                connection, "DELETE FROM customers WHERE id = $1", customer_id
            ),
        }
        await connection.execute(
            "INSERT INTO erasure_audit (at, actor, key_kind, reference, erased) "
            "VALUES ($1, $2, $3, $4, $5::jsonb)",
            now,
            actor,
            key.kind,
            reference,
            json.dumps(erased),
        )
    return erased
