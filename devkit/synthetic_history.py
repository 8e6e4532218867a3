"""A year of a support line that never happened: realistic, repeatable call history.

Feeds the demo, the what-if preview and its benchmark. The line is open 08:00-20:00 (UTC), busiest
late morning and after lunch, quieter on Saturdays and Sundays. Agents work five days a week on an
early or a late shift, take wrap-up time after each call and now and then a break. A caller with a
problem calls; with some probability they call back (most within a few hours, some the next day),
again and again. One call in ten is handed to a specialist, and some callers give up while waiting
for one, or in the queue. A few numbers are shared by two customers (an office, a family).

Callbacks are routed as the router would have routed them with the default settings: the live
policy decides (through the replay engine), the agent gets the call if free, else the queue.
Deterministic for a seed. Written with COPY, in batches, so a million calls take a minute or so.
"""

from __future__ import annotations

import heapq
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from sticky_router.routing_core.decision import StickyDecision
from sticky_router.routing_core.model import Agent, AgentRole, Customer, KeyKind, Leg
from sticky_router.routing_core.replay_input import ReplayCall, World
from sticky_router.routing_core.simulate import Replay

OPEN_HOUR, CLOSE_HOUR = 8, 20
# Relative call volume per opening hour (08..19) and per weekday (Monday first).
HOUR_PROFILE = (0.6, 1.0, 1.3, 1.3, 1.1, 0.9, 1.1, 1.2, 1.1, 0.9, 0.7, 0.5)
WEEKDAY_PROFILE = (1.25, 1.15, 1.1, 1.05, 1.0, 0.5, 0.35)
SHIFTS = ((8, 17), (11, 20))
QUEUE = "support"
DIDS = ("74950000000", "74950000001")
VIP_CLASS = "vip"
TABLES = (
    "sticky_claims", "settings_audit", "routing_settings", "caller_blocks", "do_not_pair",
    "interaction_legs", "interactions", "tickets", "phone_numbers", "customers", "agents",
)  # fmt: skip


@dataclass(frozen=True)
class HistoryShape:
    """The knobs of the synthetic line; the defaults give about a million calls a year."""

    agents: int = 50
    days: int = 365
    start: datetime = datetime(2025, 11, 24, tzinfo=UTC)  # a Monday
    seed: int = 1
    calls_per_agent_day: float = 55.0  # averaged over every day of the week, callbacks included
    customers_per_agent: int = 3000
    specialist_share: float = 0.1
    repeat_probability: float = 0.25  # of any answered call being followed by another
    callback_median_minutes: float = 40.0
    handle_median_seconds: float = 180.0
    misdial_share: float = 0.03
    transfer_share: float = 0.10
    gave_up_on_transfer_share: float = 0.08
    queue_patience_mean_seconds: float = 150.0
    break_share: float = 0.03  # calls after which the agent takes a 5-15 minute break
    shared_number_share: float = 0.02
    vip_share: float = 0.03
    ticket_share: float = 0.3  # problems that get a ticket

    @property
    def end(self) -> datetime:
        return self.start + timedelta(days=self.days)


@dataclass
class _AgentState:
    agent: Agent
    shift: tuple[int, int]
    days_off: tuple[int, int]
    free_from: datetime

    def on_shift(self, at: datetime) -> bool:
        return at.weekday() not in self.days_off and self.shift[0] <= at.hour < self.shift[1]


def _free_from(state: _AgentState) -> datetime:
    return state.free_from


class _LineAvailability:
    """What the replay engine asks while generating: the generated agents' shifts and calls."""

    def __init__(self, states: dict[int, _AgentState]) -> None:
        self._states = states

    def free_at(self, agent_id: int, at: datetime) -> datetime | None:
        state = self._states.get(agent_id)
        if state is None or not state.on_shift(at):
            return None
        return max(at, state.free_from)


@dataclass(order=True)
class _Arrival:
    at: datetime
    order: int
    customer: int = field(compare=False)
    problem: int = field(compare=False)  # the ticket of this problem, or 0


@dataclass
class GeneratedCounts:
    agents: int = 0
    customers: int = 0
    tickets: int = 0
    interactions: int = 0
    legs: int = 0
    callbacks: int = 0
    abandoned: int = 0
    sticky_connected: int = 0
    seconds: float = 0.0


def number_of(customer: int) -> str:
    return f"+7900{customer:07d}"


class _Generator:
    def __init__(self, shape: HistoryShape) -> None:
        self.shape = shape
        self.random = random.Random(shape.seed)  # noqa: S311 (made-up calls, not secrets)
        specialists = max(1, round(shape.agents * shape.specialist_share))
        self.states: dict[int, _AgentState] = {}
        for n in range(1, shape.agents + 1):
            role = AgentRole.SPECIALIST if n > shape.agents - specialists else AgentRole.FIRST_LINE
            agent = Agent(n, f"agent{n}", f"Agent {n}", f"PJSIP/agent{n}", role, True)
            self.states[n] = _AgentState(
                agent,
                shift=SHIFTS[n % 2],
                days_off=((n // 2) % 7, (n // 2 + 1) % 7),
                free_from=shape.start,
            )
        self.working: dict[tuple[int, int, AgentRole], list[_AgentState]] = {}
        self.customers = shape.agents * shape.customers_per_agent
        self.shared_with = {
            c: c + 1 for c in range(1, self.customers, max(2, round(1 / shape.shared_number_share)))
        }
        self.vips = {
            c for c in range(1, self.customers + 1) if self.random.random() < shape.vip_share
        }
        world = World(
            agents={n: s.agent for n, s in self.states.items()},
            customers={c: Customer(c, "", VIP_CLASS, None, None) for c in self.vips},
            shared_numbers=frozenset(number_of(c) for c in self.shared_with),
        )
        self.replay = Replay(world, {"generated": []}, _LineAvailability(self.states))
        self.tickets: dict[int, tuple[int, int, datetime]] = {}  # id -> customer, owner, last call
        self.counts = GeneratedCounts(agents=shape.agents, customers=self.customers)

    # -- arrivals ------------------------------------------------------------------------------

    def first_calls(self) -> list[_Arrival]:
        shape = self.shape
        mean_chain = 1 / (1 - shape.repeat_probability)
        per_day = shape.calls_per_agent_day * shape.agents / mean_chain
        weights = sum(WEEKDAY_PROFILE) / 7 * sum(HOUR_PROFILE)
        arrivals: list[_Arrival] = []
        for day in range(shape.days):
            date = shape.start + timedelta(days=day)
            for offset, hour_weight in enumerate(HOUR_PROFILE):
                rate = per_day * WEEKDAY_PROFILE[date.weekday()] * hour_weight / weights
                hour_start = date + timedelta(hours=OPEN_HOUR + offset)
                at = self.random.expovariate(rate)
                while at < 1.0:
                    customer = self.random.randint(1, self.customers)
                    arrivals.append(
                        _Arrival(hour_start + timedelta(hours=at), len(arrivals), customer, 0)
                    )
                    at += self.random.expovariate(rate)
        return arrivals

    def callback_time(self, after: datetime) -> datetime:
        minutes = self.shape.callback_median_minutes * math.exp(self.random.gauss(0, 1.3))
        at = after + timedelta(minutes=min(minutes, 60 * 24 * 7))
        if OPEN_HOUR <= at.hour < CLOSE_HOUR:
            return at
        # Closed: the caller tries again in the next morning's first hours.
        morning = at.replace(hour=OPEN_HOUR, minute=0, second=0, microsecond=0)
        if at.hour >= CLOSE_HOUR:
            morning += timedelta(days=1)
        return morning + timedelta(minutes=self.random.uniform(0, 180))

    # -- one call ------------------------------------------------------------------------------

    def free_agent(self, at: datetime, role: AgentRole) -> _AgentState | None:
        shift = (at.weekday(), at.hour, role)
        working = self.working.get(shift)
        if working is None:
            working = [s for s in self.states.values() if s.agent.role is role and s.on_shift(at)]
            self.working[shift] = working
        return min(working, key=_free_from) if working else None

    def busy(self, state: _AgentState, until: datetime) -> None:
        pause = self.random.uniform(15, 45)
        if self.random.random() < self.shape.break_share:
            pause += self.random.uniform(300, 900)
        state.free_from = until + timedelta(seconds=pause)

    def handle(self) -> float:
        if self.random.random() < self.shape.misdial_share:
            return self.random.uniform(1, 8)
        return self.shape.handle_median_seconds * math.exp(self.random.gauss(0, 0.6))

    def call(
        self, arrival: _Arrival, interaction_id: int
    ) -> tuple[tuple[Any, ...], list[tuple[Any, ...]], ReplayCall]:
        rnd, shape, at = self.random, self.shape, arrival.at
        customer = arrival.customer
        number = number_of(customer)
        shared = customer in self.shared_with
        call_id = f"syn-{interaction_id}"
        ticket_id = arrival.problem or None
        probe = ReplayCall(
            interaction_id, call_id, number, KeyKind.NUMBER, number,
            None if shared else customer, ticket_id, QUEUE, DIDS[customer % 2], at, None, (),
        )  # fmt: skip
        outcome = self.replay.offer(probe)["generated"]
        decision = outcome.decision
        route, route_reason, target = "queue", outcome.reason, None
        if isinstance(decision, StickyDecision):
            route, route_reason = "sticky", decision.target.reason.value
            target = decision.target.agent.id
        legs: list[tuple[Any, ...]] = []
        replay_legs: list[Leg] = []
        patience = rnd.expovariate(1 / shape.queue_patience_mean_seconds)
        answered: datetime | None = None
        side = "caller"
        result, result_reason = ("sticky", None) if outcome.route == "sticky" else ("queue", None)
        if outcome.route != "sticky" and route == "sticky":
            result_reason = outcome.reason
        if outcome.route == "sticky" and outcome.agent_id is not None:
            state: _AgentState | None = self.states[outcome.agent_id]
            ring_at = at + timedelta(seconds=outcome.wait_seconds)
            self.counts.sticky_connected += 1
        else:
            state = self.free_agent(at, AgentRole.FIRST_LINE)
            ring_at = max(at, state.free_from) if state else at
        if state is None or (ring_at - at).total_seconds() > patience:
            ended = at + timedelta(seconds=min(patience, 3600))
            result, result_reason = "abandoned", "caller_abandoned"
            self.counts.abandoned += 1
        else:
            answered = ring_at + timedelta(seconds=rnd.uniform(3, 8))
            talk_end = answered + timedelta(seconds=self.handle())
            ended = talk_end
            first_leg = (
                "leg-1",
                state.agent.id,
                state.agent.role.value,
                ring_at,
                answered,
                talk_end,
                None,
            )
            legs.append(first_leg)
            if rnd.random() < shape.transfer_share and (talk_end - answered).total_seconds() > 30:
                specialist = self.free_agent(talk_end, AgentRole.SPECIALIST)
                if specialist is not None:
                    ended = self.transfer(specialist, talk_end, legs)
                    side = "caller" if legs[-1][4] is None else rnd.choice(("caller", "agent"))
            else:
                side = rnd.choice(("caller", "agent"))
            self.busy(state, talk_end)
        rows = []
        for leg_id, agent_id, role, rang, ans, end, transferred in legs:
            rows.append(
                (
                    interaction_id,
                    leg_id,
                    agent_id,
                    role,
                    rang,
                    ans,
                    end,
                    transferred,
                    "ANSWER" if ans else "CANCEL",
                )
            )
            replay_legs.append(
                Leg(leg_id, agent_id, AgentRole(role), rang, ans, end, transferred is not None)
            )
        if ticket_id:
            owner_customer, owner, _ = self.tickets[ticket_id]
            self.tickets[ticket_id] = (owner_customer, owner, ended)
        interaction = (
            interaction_id, call_id, number, "number", number, None if shared else customer,
            ticket_id, QUEUE, DIDS[customer % 2], at, answered, ended, side, route,
            route_reason, target, result, result_reason,
        )  # fmt: skip
        recorded = ReplayCall(
            interaction_id, call_id, number, KeyKind.NUMBER, number, None if shared else customer,
            ticket_id, QUEUE, DIDS[customer % 2], at, ended, tuple(replay_legs),
        )  # fmt: skip
        return interaction, rows, recorded

    def transfer(
        self, specialist: _AgentState, at: datetime, legs: list[tuple[Any, ...]]
    ) -> datetime:
        rnd = self.random
        ring_at = max(at, specialist.free_from)
        gave_up = rnd.random() < self.shape.gave_up_on_transfer_share or (
            (ring_at - at).total_seconds() > self.shape.queue_patience_mean_seconds * 2
        )
        if gave_up:
            # The caller hangs up while the transfer rings: the specialist leg exists, unanswered.
            ended = at + timedelta(seconds=rnd.uniform(10, 90))
            legs.append(("leg-2", specialist.agent.id, "specialist", at, None, ended, "leg-1"))
            return ended
        answered = ring_at + timedelta(seconds=rnd.uniform(3, 8))
        ended = answered + timedelta(seconds=self.handle() * 1.5)
        legs.append(("leg-2", specialist.agent.id, "specialist", ring_at, answered, ended, "leg-1"))
        self.busy(specialist, ended)
        return ended

    def next_problem(self, arrival: _Arrival, owner: int | None) -> int:
        if arrival.problem or owner is None or self.random.random() >= self.shape.ticket_share:
            return arrival.problem
        ticket_id = len(self.tickets) + 1
        self.tickets[ticket_id] = (arrival.customer, owner, arrival.at)
        return ticket_id


InteractionRow = tuple[Any, ...]
Flush = Callable[[list[InteractionRow], list[tuple[Any, ...]]], Any]

INTERACTION_COLUMNS = (
    "id", "call_id", "caller_number", "key_kind", "key_value", "customer_id", "ticket_id",
    "queue", "did", "started_at", "answered_at", "ended_at", "hangup_side", "route",
    "route_reason", "target_agent_id", "outcome", "outcome_reason",
)  # fmt: skip
LEG_COLUMNS = (
    "interaction_id", "leg_id", "agent_id", "role", "rang_at", "answered_at", "ended_at",
    "transferred_from_leg_id", "outcome",
)  # fmt: skip


async def generate_history(
    pool: asyncpg.Pool,
    shape: HistoryShape,
    *,
    reset: bool = False,
    batch: int = 50_000,
    progress: Callable[[str], None] | None = None,
) -> GeneratedCounts:
    """Write a synthetic line's agents, customers, numbers, tickets and calls into the database.

    Refuses to write into a database that already has agents unless `reset` (which wipes every
    routing table first)."""
    started = time.perf_counter()
    generator = _Generator(shape)
    counts = generator.counts
    async with pool.acquire() as connection:
        if reset:
            await connection.execute(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE")
            await connection.execute("DELETE FROM customer_classes WHERE name <> 'standard'")
        elif await connection.fetchval("SELECT count(*) FROM agents"):
            raise RuntimeError("the database already has agents; use --reset to wipe it first")
        if await connection.fetchval("SELECT rolsuper FROM pg_roles WHERE rolname = current_user"):
            # Bulk load: skip the foreign-key triggers, the generator only writes valid ids.
            await connection.execute("SET session_replication_role = replica")
        await _people(connection, generator)
        arrivals = generator.first_calls()
        heapq.heapify(arrivals)
        order = len(arrivals)
        interactions: list[InteractionRow] = []
        legs: list[tuple[Any, ...]] = []
        end = shape.end
        while arrivals:
            arrival = heapq.heappop(arrivals)
            counts.interactions += 1
            interaction, leg_rows, recorded = generator.call(arrival, counts.interactions)
            generator.replay.record(recorded)
            interactions.append(interaction)
            legs += leg_rows
            counts.legs += len(leg_rows)
            answered_by = leg_rows[0][2] if leg_rows and leg_rows[0][5] else None
            problem = generator.next_problem(arrival, answered_by)
            if recorded.ended_at and generator.random.random() < shape.repeat_probability:
                again = generator.callback_time(recorded.ended_at)
                if again < end:
                    order += 1
                    counts.callbacks += 1
                    heapq.heappush(arrivals, _Arrival(again, order, arrival.customer, problem))
            if len(interactions) >= batch:
                await _flush(connection, generator, interactions, legs)
                interactions, legs = [], []
                if progress:
                    progress(f"{counts.interactions:,} calls written")
        await _flush(connection, generator, interactions, legs)
        await _tickets_final(connection, generator)
        for table in ("interactions", "interaction_legs"):
            await connection.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT coalesce(max(id), 0) + 1 FROM {table}), false)"
            )
        await connection.execute("RESET session_replication_role")
        await connection.execute("ANALYZE")
    counts.tickets = len(generator.tickets)
    counts.seconds = time.perf_counter() - started
    return counts


async def _people(connection: Any, generator: _Generator) -> None:
    await connection.execute(
        "INSERT INTO customer_classes (name, description) VALUES ($1, 'Synthetic VIPs') "
        "ON CONFLICT DO NOTHING",
        VIP_CLASS,
    )
    await connection.copy_records_to_table(
        "agents",
        records=[
            (s.agent.id, s.agent.name, s.agent.display_name, s.agent.endpoint, s.agent.role.value)
            for s in generator.states.values()
        ],
        columns=("id", "name", "display_name", "endpoint", "role"),
    )
    await connection.copy_records_to_table(
        "customers",
        records=[
            (
                c,
                f"Customer {c}",
                VIP_CLASS if c in generator.vips else "standard",
                str(10_000_000 + c),
            )
            for c in range(1, generator.customers + 1)
        ],
        columns=("id", "name", "class_name", "account_number"),
    )
    numbers = [(number_of(c), c) for c in range(1, generator.customers + 1)]
    numbers += [(number_of(c), other) for c, other in generator.shared_with.items()]
    await connection.copy_records_to_table(
        "phone_numbers", records=numbers, columns=("e164", "customer_id")
    )
    for table in ("agents", "customers"):
        await connection.execute(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
            f"(SELECT max(id) + 1 FROM {table}), false)"
        )


async def _flush(
    connection: Any,
    generator: _Generator,
    interactions: list[InteractionRow],
    legs: list[tuple[Any, ...]],
) -> None:
    # Tickets first: the calls refer to them.
    known = await connection.fetchval("SELECT coalesce(max(id), 0) FROM tickets")
    fresh = [
        (ticket_id, f"SYN-{ticket_id}", customer, f"Problem {ticket_id}", owner, last, last)
        for ticket_id, (customer, owner, last) in generator.tickets.items()
        if ticket_id > known
    ]
    if fresh:
        await connection.copy_records_to_table(
            "tickets",
            records=fresh,
            columns=(
                "id",
                "external_id",
                "customer_id",
                "subject",
                "owner_agent_id",
                "created_at",
                "updated_at",
            ),
        )
    if interactions:
        await connection.copy_records_to_table(
            "interactions", records=interactions, columns=INTERACTION_COLUMNS
        )
    if legs:
        await connection.copy_records_to_table(
            "interaction_legs", records=legs, columns=LEG_COLUMNS
        )


async def _tickets_final(connection: Any, generator: _Generator) -> None:
    """A problem nobody called about for a week is closed; the rest stay open."""
    await connection.execute(
        "UPDATE tickets t SET updated_at = last.ended FROM ("
        " SELECT ticket_id, max(ended_at) AS ended FROM interactions"
        " WHERE ticket_id IS NOT NULL GROUP BY ticket_id) last WHERE last.ticket_id = t.id"
    )
    await connection.execute(
        "UPDATE tickets SET status = 'closed' WHERE updated_at < $1",
        generator.shape.end - timedelta(days=7),
    )
    await connection.execute(
        "SELECT setval(pg_get_serial_sequence('tickets', 'id'), "
        "(SELECT coalesce(max(id), 0) + 1 FROM tickets), false)"
    )
