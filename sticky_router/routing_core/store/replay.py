"""Feed the what-if replay from Postgres: the recorded calls, streamed in the order they started.

One server-side cursor over interactions joined with their legs (one row per leg), grouped back
into calls in Python; the small tables (agents, flags, classes, tickets) are read up front.
Memory stays flat however long the period: only the callers inside the widest window are kept.
"""

from __future__ import annotations

import asyncio
import gc
import multiprocessing
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from sticky_router.routing_core.model import (
    Agent,
    AgentRole,
    BlockDestinationKind,
    CallerBlock,
    Customer,
    KeyKind,
    Leg,
    PairingBan,
    PairingKind,
    Ticket,
)
from sticky_router.routing_core.replay_assumptions import CallerChoices, RecordedAvailability
from sticky_router.routing_core.replay_input import Flag, ReplayCall, World
from sticky_router.routing_core.replay_tally import Tally
from sticky_router.routing_core.settings import ScopedValue
from sticky_router.routing_core.simulate import Replay
from sticky_router.routing_core.store import Connection
from sticky_router.routing_core.store.settings_store import read_settings_rows

IN_FORCE = "in force"
CANDIDATE = "candidate"

_CALLS = """
    SELECT i.id, i.call_id, i.caller_number, i.key_kind, i.key_value, i.customer_id, i.ticket_id,
           i.queue, i.did, i.started_at, i.ended_at,
           l.leg_id, l.agent_id, l.role, l.rang_at, l.answered_at, l.ended_at AS leg_ended_at,
           l.transferred_from_leg_id IS NOT NULL AS transferred, i.escalated_queue
    FROM interactions i
    LEFT JOIN interaction_legs l ON l.interaction_id = i.id AND NOT l.consultation
    WHERE ($1::timestamptz IS NULL OR i.started_at >= $1)
      AND ($2::timestamptz IS NULL OR i.started_at < $2)
    ORDER BY i.started_at, i.id, l.rang_at NULLS LAST, l.id
"""

# date_part is a double, as replay_assumptions.hour_index's timestamp() is (extract's numeric
# took a third longer over a year of legs).
_WORKED_HOURS = """
    SELECT DISTINCT agent_id, floor(date_part('epoch', rang_at) / 3600)::bigint AS hour
    FROM interaction_legs WHERE rang_at IS NOT NULL
"""


@dataclass(frozen=True, slots=True)
class ReplayReport:
    tallies: Mapping[str, Tally]
    agents: Mapping[int, Agent]
    calls: int
    first_call: datetime | None
    last_call: datetime | None
    seconds: float


async def read_world(connection: Connection) -> World:
    agents = {
        r["id"]: Agent(
            r["id"], r["name"], r["display_name"], r["endpoint"], AgentRole(r["role"]), r["active"]
        )
        for r in await connection.fetch(
            "SELECT id, name, display_name, endpoint, role, active FROM agents"
        )
    }
    # Only customers that differ from a standard one: a class of their own or a personal manager.
    customers = {
        r["id"]: Customer(r["id"], "", r["class_name"], None, None, r["personal_agent_id"])
        for r in await connection.fetch(
            "SELECT id, class_name, personal_agent_id FROM customers "
            "WHERE class_name <> 'standard' OR personal_agent_id IS NOT NULL"
        )
    }
    shared = frozenset(
        r["e164"]
        for r in await connection.fetch(
            "SELECT e164 FROM phone_numbers GROUP BY e164 HAVING count(*) > 1"
        )
    )
    # The ticket owner only matters to the policy when it is a candidate at all.
    tickets = {
        r["id"]: Ticket(
            r["id"], r["external_id"], r["customer_id"], "", r["status"], r["owner_agent_id"],
            None, None, r["updated_at"],
        )
        for r in await connection.fetch(
            "SELECT id, external_id, customer_id, status, owner_agent_id, updated_at FROM tickets "
            "WHERE owner_agent_id IS NOT NULL AND status <> 'closed'"
        )
    }  # fmt: skip
    world = World(agents=agents, customers=customers, shared_numbers=shared, tickets=tickets)
    for r in await connection.fetch(
        "SELECT customer_id, e164, agent_id, kind, reviewed_at, expires_at FROM do_not_pair "
        "WHERE status = 'approved'"
    ):
        flag = Flag(
            r["reviewed_at"], ban=PairingBan(r["agent_id"], PairingKind(r["kind"]), r["expires_at"])
        )
        _file(world, r["customer_id"], r["e164"], flag)
    for r in await connection.fetch(
        "SELECT customer_id, e164, destination_kind, destination, set_at, expires_at "
        "FROM caller_blocks WHERE status = 'approved'"
    ):
        block = CallerBlock(
            BlockDestinationKind(r["destination_kind"]), r["destination"], r["expires_at"]
        )
        _file(world, r["customer_id"], r["e164"], Flag(r["set_at"], block=block))
    return world


def _file(world: World, customer_id: int | None, e164: str | None, flag: Flag) -> None:
    if customer_id is not None:
        world.flags_by_customer.setdefault(customer_id, []).append(flag)
    if e164 is not None:
        world.flags_by_number.setdefault(e164, []).append(flag)


async def read_worked_hours(connection: Connection) -> set[tuple[int, int]]:
    return {(r["agent_id"], r["hour"]) for r in await connection.fetch(_WORKED_HOURS)}


# Column positions in _CALLS: rows are read by index, a million times.
(_ID, _CALL_ID, _NUMBER, _KIND, _KEY, _CUSTOMER, _TICKET, _QUEUE, _DID, _STARTED, _ENDED,
 _LEG_ID, _AGENT, _ROLE, _RANG, _ANSWERED, _LEG_ENDED, _TRANSFERRED,
 _ESCALATED_QUEUE) = range(19)  # fmt: skip
_ROLES = {role.value: role for role in AgentRole}
_KINDS = {kind.value: kind for kind in KeyKind}


def _call(row: Any, legs: list[Leg]) -> ReplayCall:
    kind = row[_KIND]
    return ReplayCall(
        row[_ID], row[_CALL_ID], row[_NUMBER], _KINDS[kind] if kind else None, row[_KEY],
        row[_CUSTOMER], row[_TICKET], row[_QUEUE], row[_DID], row[_STARTED], row[_ENDED],
        tuple(legs), row[_ESCALATED_QUEUE],
    )  # fmt: skip


async def stream_calls(
    connection: Connection,
    since: datetime | None,
    until: datetime | None,
    chunk: int = 20_000,
) -> AsyncIterator[ReplayCall]:
    """Every call that started in [since, until), in the order they started, with their legs.
    Runs a server-side cursor in a read-only transaction on `connection`, `chunk` rows a trip."""
    current: Any = None
    legs: list[Leg] = []
    async with connection.transaction(readonly=True):
        # The calls are sorted by start time: in memory, not in temporary files.
        await connection.execute("SET LOCAL work_mem = '256MB'")
        cursor = await connection.cursor(_CALLS, since, until)
        while rows := await cursor.fetch(chunk):
            for row in rows:
                if current is not None and row[_ID] != current[_ID]:
                    yield _call(current, legs)
                    legs = []
                current = row
                if row[_LEG_ID] is not None:
                    legs.append(
                        Leg(
                            row[_LEG_ID],
                            row[_AGENT],
                            _ROLES[row[_ROLE]],
                            row[_RANG],
                            row[_ANSWERED],
                            row[_LEG_ENDED],
                            row[_TRANSFERRED],
                        )
                    )
        if current is not None:
            yield _call(current, legs)


async def run_replay(
    connection: Connection,
    candidate: Sequence[ScopedValue],
    *,
    since: datetime | None = None,
    until: datetime | None = None,
) -> ReplayReport:
    """Replay [since, until) under the settings in force and under them with `candidate` on top
    (a candidate row replaces the stored row of the same scope and key), in this process."""
    in_force = await read_settings_rows(connection)
    variants = {IN_FORCE: in_force, CANDIDATE: overlay(in_force, candidate)}
    return await replay_variants(connection, variants, since=since, until=until)


async def run_replay_in_processes(
    database_url: str,
    candidate: Sequence[ScopedValue],
    *,
    since: datetime | None = None,
    until: datetime | None = None,
) -> ReplayReport:
    """As `run_replay`, with each set of settings replayed in a process of its own: on two cores
    that halves the time, and the caller's event loop (the web server, the router) only waits."""
    started = time.perf_counter()
    connection = await asyncpg.connect(database_url)
    try:
        in_force = await read_settings_rows(connection)
    finally:
        await connection.close()
    variants = {IN_FORCE: in_force, CANDIDATE: overlay(in_force, candidate)}
    loop = asyncio.get_running_loop()
    # spawn, not fork: the parent may hold a running loop, a pool and threads.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=len(variants), mp_context=context) as workers:
        parts = await asyncio.gather(
            *(
                loop.run_in_executor(
                    workers, _replay_in_worker, database_url, name, rows, since, until
                )
                for name, rows in variants.items()
            )
        )
    return ReplayReport(
        tallies={name: tally for part in parts for name, tally in part.tallies.items()},
        agents=parts[0].agents,
        calls=parts[0].calls,
        first_call=parts[0].first_call,
        last_call=parts[0].last_call,
        seconds=time.perf_counter() - started,
    )


def _replay_in_worker(
    database_url: str,
    name: str,
    rows: Sequence[ScopedValue],
    since: datetime | None,
    until: datetime | None,
) -> ReplayReport:
    async def replay() -> ReplayReport:
        connection = await asyncpg.connect(database_url)
        try:
            return await replay_variants(connection, {name: rows}, since=since, until=until)
        finally:
            await connection.close()

    return asyncio.run(replay())


async def replay_variants(
    connection: Connection,
    variants: Mapping[str, Sequence[ScopedValue]],
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    choices: CallerChoices | None = None,
) -> ReplayReport:
    """Replay [since, until) under each named set of settings rows."""
    started = time.perf_counter()
    world = await read_world(connection)
    availability = RecordedAvailability(await read_worked_hours(connection))
    replay = Replay(world, variants, availability, choices=choices)
    calls = 0
    first: datetime | None = None
    last: datetime | None = None
    # Millions of short-lived objects and no reference cycles: the cyclic collector would only
    # walk the kept history over and over.
    collecting = gc.isenabled()
    gc.disable()
    try:
        async for call in stream_calls(connection, since, until):
            replay.offer(call)
            availability.observe(call)
            replay.record(call)
            calls += 1
            first = first or call.started_at
            last = call.started_at
    finally:
        if collecting:
            gc.enable()
    return ReplayReport(
        tallies=replay.tallies,
        agents=world.agents,
        calls=calls,
        first_call=first,
        last_call=last,
        seconds=time.perf_counter() - started,
    )


def overlay(rows: Sequence[ScopedValue], changes: Sequence[ScopedValue]) -> list[ScopedValue]:
    """The stored rows with `changes` applied, as if the admin had saved them."""
    changed = {(c.scope, c.scope_value, c.key) for c in changes}
    kept = [r for r in rows if (r.scope, r.scope_value, r.key) not in changed]
    return kept + list(changes)
