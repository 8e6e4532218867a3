"""Demo data: four agents, a dozen named customers each showing one rule, and older history.

Every named customer exists to show one behaviour of routing.md in `sticky-router decide`, so the
times are relative to "now": the demo tells the same story whenever it is seeded.
"""

from __future__ import annotations

import random
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg

from sticky_router.routing_core.settings import Scope
from sticky_router.routing_core.store import Connection
from sticky_router.routing_core.store.settings_store import set_setting
from sticky_router.web.auth.accounts import add_admin, set_password
from sticky_router.web.auth.sessions import Kind

ACTOR = "seed-demo"

AGENTS = (
    ("agent1", "Anna Smirnova", "PJSIP/agent1", "first_line", "ru"),
    ("agent2", "Boris Ivanov", "PJSIP/agent2", "first_line", "en"),
    ("agent3", "Vera Kuznetsova", "PJSIP/agent3", "specialist", "ru"),
    ("agent4", "Dmitry Sokolov", "PJSIP/agent4", "first_line", "en"),
)
CLASSES = (
    ("vip", "Business customers: a longer window"),
    ("personal_manager", "A permanent assigned agent, no window"),
)
DEMO_TABLES = (
    "sticky_claims", "settings_audit", "routing_settings", "caller_blocks", "do_not_pair",
    "incidents", "callbacks",
    "interaction_legs", "interactions", "tickets", "phone_numbers", "customers", "agents",
)  # fmt: skip


@dataclass(frozen=True)
class PastCall:
    """One finished call: (agent, talk seconds) legs in order; a leg may be a transfer."""

    ended_minutes_ago: float
    legs: tuple[tuple[str, int], ...]
    transferred_to: str | None = None  # a specialist leg that rang but was never answered
    hangup: str = "caller"


@dataclass(frozen=True)
class DemoCustomer:
    name: str
    account: str
    numbers: tuple[str, ...]
    story: str
    class_name: str = "standard"
    language: str = "ru"
    personal_agent: str | None = None
    ticket: tuple[str, str, str, str | None] | None = None  # external id, subject, owner, faults
    calls: tuple[PastCall, ...] = ()
    abusive_towards: str | None = None
    blocked: bool = False


CUSTOMERS = (
    DemoCustomer(
        "Ivan Petrov",
        "100201",
        ("+79123456701",),
        "spoke with agent2 42 minutes ago: rings agent2",
        ticket=("T-1001", "No internet since morning", "agent2", "PPPoE authentication failures"),
        calls=(PastCall(42, (("agent2", 6 * 60 + 5),)),),
    ),
    DemoCustomer(
        "Olga Morozova",
        "100202",
        ("+79123456702",),
        "hung up while being transferred to specialist agent3: rings agent3",
        ticket=("T-1002", "Packet loss in the evenings", "agent1", "Loss 8% on the uplink"),
        calls=(PastCall(25, (("agent1", 180),), transferred_to="agent3"),),
    ),
    DemoCustomer(
        "Sergey Volkov",
        "100203",
        ("+79123456703",),
        "spoke with agent2 3 hours ago, window 120 minutes: queue",
        calls=(PastCall(185, (("agent2", 420),)),),
    ),
    DemoCustomer(
        "Romashka LLC",
        "100204",
        ("+74951234500",),
        "office number shared with Alexey Romanov: ambiguous, queue",
        class_name="vip",
        calls=(PastCall(30, (("agent1", 240),)),),
    ),
    DemoCustomer(
        "Alexey Romanov",
        "100205",
        ("+74951234500", "+79123456705"),
        "shares the office number with Romashka LLC",
    ),
    DemoCustomer(
        "Elena Fedorova",
        "100206",
        ("+79123456706",),
        "VIP, spoke with agent4 3 hours ago, VIP window 240 minutes: rings agent4",
        class_name="vip",
        language="en",
        calls=(PastCall(180, (("agent4", 600),)),),
    ),
    DemoCustomer(
        "Pavel Orlov",
        "100207",
        ("+79123456707",),
        "personal manager agent4, no recent call: rings agent4",
        class_name="personal_manager",
        personal_agent="agent4",
    ),
    DemoCustomer(
        "Nikolai Zaitsev",
        "100208",
        ("+79123456708",),
        "spoke with agent1 20 minutes ago, but was abusive towards agent1: queue",
        calls=(PastCall(20, (("agent1", 300),), hangup="agent"),),
        abusive_towards="agent1",
    ),
    DemoCustomer(
        "Maria Lebedeva",
        "100209",
        ("+79123456709",),
        "under an approved temporary block: supervisors' queue, no agent",
        calls=(PastCall(15, (("agent2", 200),)),),
        blocked=True,
    ),
    DemoCustomer(
        "Igor Belov",
        "100210",
        ("+79123456710",),
        "a 4-second misdial to agent1 10 minutes ago does not count: queue",
        calls=(PastCall(10, (("agent1", 4),)),),
    ),
    DemoCustomer(
        "Tatiana Kozlova",
        "100211",
        ("+79123456711",),
        "ticket owned by agent3, spoke with agent1 50 minutes ago: agent1 (owner precedence off)",
        ticket=("T-1011", "Router reboots every hour", "agent3", "Firmware 2.1.4 watchdog resets"),
        calls=(PastCall(50, (("agent1", 240),)),),
    ),
)

FIRST_NAMES = ("Andrey", "Irina", "Mikhail", "Svetlana", "Yuri", "Natalia", "Oleg", "Ksenia")
LAST_NAMES = ("Popov", "Vasilieva", "Novikov", "Pavlova", "Egorov", "Sokolova", "Frolov")
SUBJECTS = (
    "Slow Wi-Fi in the bedroom", "TV channels freeze", "Bill higher than the tariff",
    "Static IP request", "Modem LED blinking red", "Moving the line to a new flat",
)  # fmt: skip


async def seed_demo(pool: asyncpg.Pool, now: datetime, *, reset: bool = False) -> dict[str, int]:
    """Load the demo; refuses to touch a database that already has agents unless `reset`."""
    async with pool.acquire() as connection:
        if reset:
            # Only the tables this schema has: the demo also seeds databases at older
            # revisions (the erasure tests start from 0008, before incidents existed).
            present = await connection.fetchval(
                "SELECT array_agg(name) FROM unnest($1::text[]) AS name"
                " WHERE to_regclass(name) IS NOT NULL",
                list(DEMO_TABLES),
            )
            await connection.execute(f"TRUNCATE {', '.join(present)} RESTART IDENTITY CASCADE")
            await connection.execute("DELETE FROM customer_classes WHERE name <> 'standard'")
        elif await connection.fetchval("SELECT count(*) FROM agents"):
            raise RuntimeError(
                "the database already has agents; run seed-demo --reset to wipe it and reseed"
            )
        async with connection.transaction():
            counts = await _seed(connection, now)
    for scope, scope_value, key, value in (
        (Scope.GLOBAL, None, "window_minutes", 120),
        (Scope.CUSTOMER_CLASS, "vip", "window_minutes", 240),
        (Scope.CUSTOMER_CLASS, "vip", "fallback_priority_boost", 5),
        (Scope.CUSTOMER_CLASS, "personal_manager", "use_personal_manager", True),
    ):
        await set_setting(
            pool, scope=scope, scope_value=scope_value, key=key, value=value, actor=ACTOR
        )
    return counts


async def _seed(connection: Connection, now: datetime) -> dict[str, int]:
    agent_ids: dict[str, int] = {}
    for name, display, endpoint, role, language in AGENTS:
        agent_ids[name] = await connection.fetchval(
            "INSERT INTO agents (name, display_name, endpoint, role, language) "
            "VALUES ($1, $2, $3, $4, $5) RETURNING id",
            name, display, endpoint, role, language,
        )  # fmt: skip
    await connection.executemany(
        "INSERT INTO customer_classes (name, description) VALUES ($1, $2)", CLASSES
    )
    calls = 0
    for number, customer in enumerate(CUSTOMERS):
        calls += await _seed_customer(connection, customer, agent_ids, now, f"demo-{number}")
    calls += await _seed_background(connection, agent_ids, now)
    return {"agents": len(agent_ids), "customers": len(CUSTOMERS) + 40, "interactions": calls}


async def _seed_customer(
    connection: Connection,
    customer: DemoCustomer,
    agent_ids: dict[str, int],
    now: datetime,
    prefix: str,
) -> int:
    customer_id = await connection.fetchval(
        "INSERT INTO customers (name, class_name, account_number, language, personal_agent_id) "
        "VALUES ($1, $2, $3, $4, $5) RETURNING id",
        customer.name, customer.class_name, customer.account, customer.language,
        agent_ids.get(customer.personal_agent or ""),
    )  # fmt: skip
    await connection.executemany(
        "INSERT INTO phone_numbers (e164, customer_id) VALUES ($1, $2)",
        [(number, customer_id) for number in customer.numbers],
    )
    ticket_id = None
    if customer.ticket is not None:
        external_id, subject, owner, faults = customer.ticket
        ticket_id = await connection.fetchval(
            "INSERT INTO tickets (external_id, customer_id, subject, status, owner_agent_id, "
            "last_faults, promised_by, created_at, updated_at) "
            "VALUES ($1, $2, $3, 'open', $4, $5, $6, $7, $8) RETURNING id",
            external_id, customer_id, subject, agent_ids[owner], faults,
            now + timedelta(hours=2), now - timedelta(days=1), now - timedelta(minutes=40),
        )  # fmt: skip
    for index, call in enumerate(customer.calls):
        await _insert_call(
            connection, f"{prefix}-{index}", customer.numbers[0], customer_id, ticket_id,
            call, agent_ids, now,
        )  # fmt: skip
    if customer.abusive_towards is not None:
        await connection.execute(
            "INSERT INTO do_not_pair (customer_id, agent_id, kind, reason, status, requested_by, "
            "reviewed_by, reviewed_at, expires_at) "
            "VALUES ($1, $2, 'abuse', 'insults', 'approved', $3, 'supervisor', $4, $5)",
            customer_id, agent_ids[customer.abusive_towards], customer.abusive_towards,
            now - timedelta(minutes=10), now + timedelta(days=30),
        )  # fmt: skip
    if customer.blocked:
        await connection.execute(
            "INSERT INTO caller_blocks (customer_id, reason, destination_kind, destination, "
            "set_by, set_at, expires_at) "
            "VALUES ($1, 'threats to staff', 'queue', 'supervisors', 'supervisor', $2, $3)",
            customer_id, now - timedelta(minutes=5), now + timedelta(days=1),
        )  # fmt: skip
    return len(customer.calls)


async def _insert_call(
    connection: Connection,
    call_id: str,
    number: str,
    customer_id: int,
    ticket_id: int | None,
    call: PastCall,
    agent_ids: dict[str, int],
    now: datetime,
) -> None:
    ended = now - timedelta(minutes=call.ended_minutes_ago)
    total_talk = sum(seconds for _, seconds in call.legs)
    started = ended - timedelta(seconds=total_talk + 40)
    answered = started + timedelta(seconds=30)
    interaction_id = await connection.fetchval(
        "INSERT INTO interactions (call_id, caller_number, key_kind, key_value, customer_id, "
        "ticket_id, queue, did, started_at, answered_at, ended_at, hangup_side, route, "
        "route_reason, outcome) "
        "VALUES ($1, $2, 'number', $2, $3, $4, 'support', '+74950000000', $5, $6, $7, $8, "
        "'queue', 'no_history', 'queue') RETURNING id",
        call_id, number, customer_id, ticket_id, started, answered, ended, call.hangup,
    )  # fmt: skip
    leg_start = answered
    previous_leg = None
    for index, (agent, seconds) in enumerate(call.legs):
        leg_id = f"{call_id}-leg{index}"
        leg_end = leg_start + timedelta(seconds=seconds)
        await connection.execute(
            "INSERT INTO interaction_legs (interaction_id, leg_id, agent_id, role, rang_at, "
            "answered_at, ended_at, transferred_from_leg_id, outcome) "
            "SELECT $1, $2, id, role, $3, $4, $5, $6, 'ANSWER' FROM agents WHERE id = $7",
            interaction_id, leg_id, leg_start - timedelta(seconds=5), leg_start, leg_end,
            previous_leg, agent_ids[agent],
        )  # fmt: skip
        previous_leg, leg_start = leg_id, leg_end
    if call.transferred_to is not None:
        await connection.execute(
            "INSERT INTO interaction_legs (interaction_id, leg_id, agent_id, role, rang_at, "
            "ended_at, transferred_from_leg_id, outcome, hangup_side) "
            "SELECT $1, $2, id, role, $3, $4, $5, 'CANCEL', 'caller' FROM agents WHERE id = $6",
            interaction_id, f"{call_id}-transfer", leg_start, ended, previous_leg,
            agent_ids[call.transferred_to],
        )  # fmt: skip


async def _seed_background(connection: Connection, agent_ids: dict[str, int], now: datetime) -> int:
    """Forty more customers with calls over the last two weeks, none inside the window."""
    chance = random.Random(2026)  # noqa: S311 - not secret, and the same demo every time
    first_line = [name for name, *_, role, _ in AGENTS if role == "first_line"]
    calls = 0
    for index in range(40):
        ticket = None
        if chance.random() < 0.4:
            ticket = (f"T-2{index:03d}", chance.choice(SUBJECTS), chance.choice(first_line), None)
        history = tuple(
            PastCall(
                ended_minutes_ago=chance.uniform(6 * 60, 14 * 24 * 60),
                legs=((chance.choice(first_line), chance.randint(45, 900)),),
            )
            for _ in range(chance.randint(1, 4))
        )
        customer = DemoCustomer(
            name=f"{chance.choice(FIRST_NAMES)} {chance.choice(LAST_NAMES)}",
            account=f"2000{index:02d}",
            numbers=(f"+7916{5550000 + index:07d}",),
            story="background",
            ticket=ticket,
            calls=history,
        )
        calls += await _seed_customer(connection, customer, agent_ids, now, f"demo-bg-{index}")
    return calls


DEMO_ADMIN = "supervisor"


async def demo_credentials(pool: asyncpg.Pool) -> dict[str, tuple[Kind, str]]:
    """The sandbox's sign-in: a fresh random password for every agent and for the demo admin,
    returned for the console (never logged)."""
    await add_admin(pool, DEMO_ADMIN, "Demo supervisor")
    credentials: dict[str, tuple[Kind, str]] = {}
    names = await pool.fetch("SELECT name FROM agents WHERE active ORDER BY name")
    accounts: list[tuple[Kind, str]] = [("agent", row["name"]) for row in names]
    for kind, name in [*accounts, ("admin", DEMO_ADMIN)]:
        password = secrets.token_urlsafe(9)
        await set_password(pool, kind, name, password)
        credentials[name] = (kind, password)
    return credentials
