"""After an erasure, routing and the agent screen read the customer's old calls (customer NULL,
no caller number) without failing and without any of the erased data."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import asyncpg
import pytest

from sticky_router.routing_core import IncomingCall, RoutingService
from sticky_router.routing_core.decision import QueueDecision, StickyDecision
from sticky_router.routing_core.store.erasure import ErasureKey, forget_customer
from sticky_router.web.pops.store import load_facts, load_pop
from tests.security.data.erasure_helpers import IVAN_NUMBER, IVAN_TRACES, give_ivan_everything


async def _decide(pool: asyncpg.Pool, call_id: str) -> StickyDecision | QueueDecision:
    service = RoutingService(pool, default_region="RU", db_budget_seconds=5.0)
    call = IncomingCall(call_id, IVAN_NUMBER, datetime.now(UTC), "support", "+74950000000")
    decision = await service.decide(call, claim=False)
    assert isinstance(decision, StickyDecision | QueueDecision)
    return decision


async def test_routing_forgets_the_caller_and_still_decides(demo: asyncpg.Pool) -> None:
    before = await _decide(demo, "before-erasure")
    assert isinstance(before, StickyDecision)  # he spoke with agent2 42 minutes ago
    assert before.target.agent.name == "agent2"

    await forget_customer(
        demo, ErasureKey("number", IVAN_NUMBER), actor="test", now=datetime.now(UTC)
    )

    after = await _decide(demo, "after-erasure")
    assert isinstance(after, QueueDecision)
    assert after.context.identity.customers == ()
    assert after.context.last_contact is None


@pytest.mark.parametrize("call_id", ["demo-0-0", "unattached-ivan"])
async def test_the_agent_screen_shows_an_erased_call_without_its_caller(
    demo: asyncpg.Pool, call_id: str
) -> None:
    await give_ivan_everything(demo)
    agent2 = await demo.fetchval("SELECT id FROM agents WHERE name = 'agent2'")
    if call_id == "unattached-ivan":  # agent2 talked with him minutes ago: inside their access
        await demo.execute(
            "UPDATE interactions SET started_at = now() - interval '10 minutes', "
            "ended_at = now() - interval '5 minutes' WHERE call_id = $1",
            call_id,
        )
        await demo.execute(
            "INSERT INTO interaction_legs (interaction_id, leg_id, agent_id, role, rang_at, "
            "answered_at, ended_at) "
            "SELECT id, 'l', $1, 'first_line', started_at, started_at, ended_at "
            "FROM interactions WHERE call_id = $2",
            agent2, call_id,
        )  # fmt: skip
    now = datetime.now(UTC)
    shown_before = json.dumps(await load_pop(demo, call_id, agent2, "en", now), default=str)
    assert IVAN_NUMBER in shown_before  # the pop did show him: the check below can fail

    await forget_customer(demo, ErasureKey("id", str(await _ivan(demo))), actor="t", now=now)

    facts = await load_facts(demo, call_id, agent2, now)
    assert facts.interaction["customer_id"] is None
    assert facts.interaction["caller_number"] is None
    assert facts.candidates == facts.tickets == facts.marks == facts.notes == []
    shown = json.dumps(await load_pop(demo, call_id, agent2, "en", now), default=str)
    assert [trace for trace in IVAN_TRACES if trace in shown] == []


async def _ivan(pool: asyncpg.Pool) -> int:
    return int(await pool.fetchval("SELECT id FROM customers WHERE name = 'Ivan Petrov'"))
