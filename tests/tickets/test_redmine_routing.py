"""Redmine decides the owner, never the wait: its open issues mirrored into a real PostgreSQL by
the mirror sync, read by RoutingService.decide; Redmine stopped changes nothing for the caller."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import asyncpg

from devkit.sandbox.redmine_desk import SupportDesk
from sticky_router.process.metrics import PrometheusObserver
from sticky_router.routing_core import IncomingCall, RoutingService, StickyDecision
from sticky_router.routing_core.settings import Scope
from sticky_router.routing_core.store.settings_store import set_setting
from sticky_router.routing_core.store.ticket_mirror import source_state
from sticky_router.routing_core.ticket_sync import SyncTiming, TicketMirrorSync
from sticky_router.tickets_redmine.client import SOURCE_NAME, RedmineTicketSource
from tests.integration.helpers import add_agents, answered_call

BUDGET = 0.3  # the default STICKY_DB_BUDGET_MS


def now() -> datetime:
    return datetime.now(UTC)


def routing(db: asyncpg.Pool) -> RoutingService:
    return RoutingService(
        db, default_region="RU", db_budget_seconds=BUDGET, ticket_mirror=SOURCE_NAME
    )


async def last_agent_was_agent2(db: asyncpg.Pool, caller: str) -> None:
    await add_agents(db)
    await answered_call(
        db, f"c-before-{caller}", caller, "agent2", 300, now() - timedelta(minutes=30)
    )
    await set_setting(
        db, scope=Scope.GLOBAL, scope_value=None, key="target_precedence",
        value="owner_first", actor="test",
    )  # fmt: skip


async def decided(db: asyncpg.Pool, call_id: str, caller: str) -> tuple[str, str, str | None]:
    """(agent, reason, the Redmine issue it was routed with), decided within the budget."""
    incoming = IncomingCall(call_id, caller, now(), "support")
    started = time.perf_counter()
    decision = await routing(db).decide(incoming, claim=False)
    assert time.perf_counter() - started < BUDGET
    assert isinstance(decision, StickyDecision), decision
    ticket = decision.context.identity.ticket
    return (
        decision.target.agent.name,
        decision.target.reason.value,
        None if ticket is None else ticket.external_id,
    )


async def test_the_redmine_assignee_wins_and_a_stopped_redmine_changes_nothing(
    db: asyncpg.Pool, desk: SupportDesk, redmine_source: RedmineTicketSource
) -> None:
    caller = "+79123457001"
    await last_agent_was_agent2(db, caller)
    issue = desk.open_issue("No internet", assignee="agent3", phone="89123457001", account="701001")
    metrics = PrometheusObserver()
    sync = TicketMirrorSync(
        redmine_source, db, timing=SyncTiming(timeout_seconds=5.0), observer=metrics
    )
    assert await sync.sync_once()

    assert await decided(db, "c-1", caller) == ("agent3", "ticket_owner", str(issue))

    desk.redmine.stop()
    try:
        assert await sync.sync_once() is False
        assert await decided(db, "c-2", caller) == ("agent3", "ticket_owner", str(issue))
        state = await source_state(db, SOURCE_NAME)
        assert state is not None
        assert state.failures_in_a_row == 1
        assert state.last_error is not None
        assert state.last_error.startswith("unavailable")
        assert desk.redmine.api_key not in state.last_error
        failures = metrics.registry.get_sample_value(
            "sticky_router_ticket_source_failures_total",
            {"source": "redmine", "operation": "sync", "failure": "unavailable"},
        )
        assert failures == 1
    finally:
        desk.redmine.start()
    assert await sync.sync_once()
    state = await source_state(db, SOURCE_NAME)
    assert state is not None
    assert state.failures_in_a_row == 0


async def test_an_issue_closed_in_redmine_gives_the_caller_back_to_their_last_agent(
    db: asyncpg.Pool, desk: SupportDesk, redmine_source: RedmineTicketSource
) -> None:
    caller = "+79123457002"
    await last_agent_was_agent2(db, caller)
    issue = desk.open_issue("Slow Wi-Fi", assignee="agent3", phone=caller, account="701002")
    sync = TicketMirrorSync(redmine_source, db)
    assert await sync.sync_once()
    assert (await decided(db, "c-3", caller))[:2] == ("agent3", "ticket_owner")

    desk.update_issue(issue, status_id=desk.status_id("Closed"))
    assert await sync.sync_once()

    assert await decided(db, "c-4", caller) == ("agent2", "last_agent", None)
