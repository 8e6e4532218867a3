"""After the call: the call-ended webhook reaches the ticket system once per call, over real
HTTP to the example service, whatever repeats the end of the call or however many processes
report; a ticket system that is away gets it later."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import asyncpg

from sticky_router.process.metrics import PrometheusObserver
from sticky_router.routing_core import (
    CallRecorder,
    HangupSide,
    IncomingCall,
    RoutingService,
    StickyDecision,
)
from sticky_router.routing_core.events import DecisionMade
from sticky_router.routing_core.settings import Scope
from sticky_router.routing_core.store.settings_store import set_setting
from sticky_router.routing_core.ticket_sync import CallReporter, ReportTiming, TicketMirrorSync
from sticky_router.tickets_http.client import SOURCE_NAME, HttpTicketSource
from tests.integration.helpers import add_agents
from tests.tickets.conftest import TicketService

IVAN = "+79123456701"
AT_ONCE = ReportTiming(timeout_seconds=0.5, settle=timedelta(0))


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


async def routed_and_answered_by_agent3(db: asyncpg.Pool, call_id: str) -> CallRecorder:
    """A call routed from the mirror to CRM-5001's owner, answered, with a note; not ended."""
    await set_setting(
        db, scope=Scope.GLOBAL, scope_value=None, key="target_precedence",
        value="owner_first", actor="test",
    )  # fmt: skip
    started = datetime.now(UTC)
    call = IncomingCall(call_id, IVAN, started, "support")
    routing = RoutingService(
        db, default_region="RU", db_budget_seconds=0.3, ticket_mirror=SOURCE_NAME
    )
    decision = await routing.decide(call)
    assert isinstance(decision, StickyDecision)
    assert decision.target.agent.name == "agent3"
    recorder = CallRecorder(db)
    assert await recorder.call_started(call, decision.context.number)
    assert await recorder.decision_made(DecisionMade.of(decision))
    assert await recorder.leg_rang(call_id, "leg-1", "PJSIP/agent3", started)
    assert await recorder.leg_answered(call_id, "leg-1", started + timedelta(seconds=3))
    await db.execute(
        "INSERT INTO interaction_notes (interaction_id, agent_id, body) "
        "SELECT i.id, a.id, 'Router rebooted, line is up again' FROM interactions i, agents a "
        "WHERE i.call_id = $1 AND a.name = 'agent3'",
        call_id,
    )
    return recorder


async def end(recorder: CallRecorder, call_id: str) -> None:
    ended = datetime.now(UTC)
    await recorder.leg_ended(call_id, "leg-1", ended, "ANSWER", HangupSide.CALLER)
    await recorder.call_ended(call_id, ended, HangupSide.CALLER, "sticky")


async def test_the_call_ended_webhook_is_posted_once_per_call(
    db: asyncpg.Pool, service: TicketService, source: HttpTicketSource
) -> None:
    await add_agents(db)
    assert await TicketMirrorSync(source, db).sync_once()
    metrics = PrometheusObserver()
    # Two processes report (the router and a FastAGI process): neither sends what the other did.
    reporters = [CallReporter(source, db, timing=AT_ONCE, observer=metrics) for _ in range(2)]
    assert await reporters[0].report_once() == 0  # connected now: older calls are not reported

    recorder = await routed_and_answered_by_agent3(db, "c-crm-1")
    await end(recorder, "c-crm-1")
    await end(recorder, "c-crm-1")  # the end heard twice (ARI and AMI, a replayed journal)
    sent = await asyncio.gather(*(r.report_once() for r in reporters))
    assert sorted(sent) == [0, 1]
    assert await reporters[1].report_once() == 0
    await end(recorder, "c-crm-1")
    assert await reporters[0].report_once() == 0

    assert service.book.call_posts == 1
    body = service.book.calls["c-crm-1"]
    assert body["ticket"] == "CRM-5001"
    assert body["agent"] == "agent3"
    assert (body["route"], body["reason"]) == ("sticky", "ticket_owner")
    assert body["note"] == "Router rebooted, line is up again"
    assert body["caller_number"] == IVAN
    assert datetime.fromisoformat(body["ended_at"]) >= datetime.fromisoformat(body["started_at"])
    assert (
        metrics.registry.get_sample_value(
            "sticky_router_ticket_call_reports_total", {"source": "http", "outcome": "sent"}
        )
        == 1
    )
    row = await db.fetchrow("SELECT ticket_ref, ticket_id FROM interactions WHERE call_id = $1",
                            "c-crm-1")  # fmt: skip
    assert row is not None
    assert (row["ticket_ref"], row["ticket_id"]) == ("CRM-5001", None)


async def test_a_report_waits_for_the_agents_wrap_up(
    db: asyncpg.Pool, service: TicketService, source: HttpTicketSource
) -> None:
    await add_agents(db)
    assert await TicketMirrorSync(source, db).sync_once()
    reporter = CallReporter(source, db, timing=ReportTiming(settle=timedelta(seconds=60)))
    await reporter.report_once()
    await end(await routed_and_answered_by_agent3(db, "c-crm-2"), "c-crm-2")
    assert await reporter.report_once() == 0
    assert service.book.call_posts == 0


async def test_a_report_the_source_missed_is_sent_when_it_is_back(
    db: asyncpg.Pool, service: TicketService, source: HttpTicketSource
) -> None:
    await add_agents(db)
    assert await TicketMirrorSync(source, db).sync_once()
    metrics = PrometheusObserver()
    clock = Clock()
    reporter = CallReporter(source, db, timing=AT_ONCE, observer=metrics, clock=clock)
    await reporter.report_once()
    await end(await routed_and_answered_by_agent3(db, "c-crm-3"), "c-crm-3")
    clock.now = datetime.now(UTC) + timedelta(seconds=1)

    await service.stop()
    assert await reporter.report_once() == 0
    assert (
        metrics.registry.get_sample_value(
            "sticky_router_ticket_source_failures_total",
            {"source": "http", "operation": "record_call", "failure": "unavailable"},
        )
        == 1
    )
    error = await db.fetchval(
        "SELECT last_error FROM ticket_call_reports WHERE call_id = 'c-crm-3'"
    )
    assert error.startswith("unavailable")

    await service.start()
    assert await reporter.report_once() == 0  # not before the first retry's time
    clock.now += AT_ONCE.retry_first + timedelta(seconds=1)
    assert await reporter.report_once() == 1
    assert await reporter.report_once() == 0
    assert list(service.book.calls) == ["c-crm-3"]
    assert service.book.call_posts == 1


async def test_a_source_away_for_a_whole_night_loses_no_report_and_is_not_hammered(
    db: asyncpg.Pool, service: TicketService, source: HttpTicketSource
) -> None:
    """Maintenance at night: the ticket system is away for eight hours while the reporter
    runs its round every five minutes. The report waits (retried less and less often, never
    given up) and goes out once the system is back."""
    await add_agents(db)
    assert await TicketMirrorSync(source, db).sync_once()
    clock = Clock()
    reporter = CallReporter(source, db, timing=AT_ONCE, clock=clock)
    await reporter.report_once()
    await end(await routed_and_answered_by_agent3(db, "c-crm-4"), "c-crm-4")
    clock.now = datetime.now(UTC) + timedelta(seconds=1)

    await service.stop()
    rounds = 0
    night_ends = clock.now + timedelta(hours=8)
    while clock.now < night_ends:
        assert await reporter.report_once() == 0
        clock.now += timedelta(minutes=5)
        rounds += 1
    row = await db.fetchrow(
        "SELECT status, attempts FROM ticket_call_reports WHERE call_id = 'c-crm-4'"
    )
    assert row is not None
    status, attempts = row["status"], row["attempts"]
    assert status == "pending"
    assert attempts < rounds / 4, f"{attempts} attempts in {rounds} rounds: no backing off"

    await service.start()
    clock.now += timedelta(hours=1)  # the longest wait between two attempts
    assert await reporter.report_once() == 1
    assert list(service.book.calls) == ["c-crm-4"]
