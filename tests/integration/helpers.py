"""Building call history the way adapters will: through the core's own recording API."""

from __future__ import annotations

from datetime import datetime, timedelta

import asyncpg

from sticky_router.routing_core import CallRecorder, HangupSide, IncomingCall, RoutingService
from sticky_router.routing_core.decision import Decision
from sticky_router.routing_core.events import DecisionMade

AGENT_ROWS = (
    ("agent1", "PJSIP/agent1", "first_line"),
    ("agent2", "PJSIP/agent2", "first_line"),
    ("agent3", "PJSIP/agent3", "specialist"),
    ("agent4", "PJSIP/agent4", "first_line"),
)


async def add_agents(db: asyncpg.Pool) -> dict[str, int]:
    ids = {}
    for name, endpoint, role in AGENT_ROWS:
        ids[name] = await db.fetchval(
            "INSERT INTO agents (name, display_name, endpoint, role) VALUES ($1, $1, $2, $3) "
            "RETURNING id",
            name,
            endpoint,
            role,
        )
    return ids


async def add_customer(
    db: asyncpg.Pool, name: str, account: str, *numbers: str, class_name: str = "standard"
) -> int:
    if class_name != "standard":
        await db.execute(
            "INSERT INTO customer_classes (name) VALUES ($1) ON CONFLICT DO NOTHING", class_name
        )
    customer_id: int = await db.fetchval(
        "INSERT INTO customers (name, class_name, account_number) VALUES ($1, $2, $3) RETURNING id",
        name,
        class_name,
        account,
    )
    for number in numbers:
        await db.execute(
            "INSERT INTO phone_numbers (e164, customer_id) VALUES ($1, $2)", number, customer_id
        )
    return customer_id


def service(db: asyncpg.Pool, budget: float = 5.0) -> RoutingService:
    return RoutingService(db, default_region="RU", db_budget_seconds=budget)


async def answered_call(
    db: asyncpg.Pool,
    call_id: str,
    caller_id: str,
    agent: str,
    talk_seconds: float,
    ended_at: datetime,
    *,
    transfer_to: str | None = None,
    account: str | None = None,
) -> Decision:
    """A whole call as an adapter reports it: started, decided, agent rang and answered, talked,
    optionally a transfer the caller hung up on, ended. Returns the decision it got."""
    started = ended_at - timedelta(seconds=talk_seconds + 30)
    call = IncomingCall(call_id, caller_id, started, "support", ivr_account=account)
    recorder = CallRecorder(db)
    routing = service(db)
    decision = await routing.decide(call)
    assert await recorder.call_started(call, decision.context.number)
    assert await recorder.decision_made(DecisionMade.of(decision))
    answered = started + timedelta(seconds=20)
    assert await recorder.leg_rang(
        call_id, "leg-1", f"PJSIP/{agent}", started + timedelta(seconds=2)
    )
    assert await recorder.leg_answered(call_id, "leg-1", answered)
    talk_end = answered + timedelta(seconds=talk_seconds)
    if transfer_to is not None:
        assert await recorder.transfer(call_id, "leg-1", "leg-2", transfer_to, talk_end)
    assert await recorder.leg_ended(call_id, "leg-1", talk_end, "ANSWER", HangupSide.AGENT)
    if transfer_to is not None:
        assert await recorder.leg_ended(call_id, "leg-2", ended_at, "CANCEL", HangupSide.CALLER)
    assert await recorder.call_ended(call_id, ended_at, HangupSide.CALLER, "queue")
    await routing.release(call_id, "answered", ended_at)
    return decision
