"""An external ticket system decides the owner, never the wait: the mirror on a real PostgreSQL,
synced over real HTTP from the example service, read by RoutingService.decide."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
import structlog

from sticky_router.process.metrics import PrometheusObserver
from sticky_router.routing_core import CallRecorder, IncomingCall, RoutingService, StickyDecision
from sticky_router.routing_core.decision import CandidateReason
from sticky_router.routing_core.events import DecisionMade
from sticky_router.routing_core.settings import Scope
from sticky_router.routing_core.store.erasure import ErasureKey, forget_customer
from sticky_router.routing_core.store.settings_store import set_setting
from sticky_router.routing_core.store.ticket_mirror import source_state
from sticky_router.routing_core.ticket_sync import SyncTiming, TicketMirrorSync
from sticky_router.tickets_http.client import SOURCE_NAME, HttpTicketSource
from tests.integration.helpers import add_agents, add_customer, answered_call
from tests.tickets.conftest import TicketService

IVAN = "+79123456701"
BUDGET = 0.3  # the default STICKY_DB_BUDGET_MS


def now() -> datetime:
    return datetime.now(UTC)


def routing(db: asyncpg.Pool, metrics: PrometheusObserver | None = None) -> RoutingService:
    return RoutingService(
        db,
        default_region="RU",
        db_budget_seconds=BUDGET,
        observer=metrics,
        ticket_mirror=SOURCE_NAME,
    )


def call(call_id: str = "c-new", caller: str = IVAN, **ivr: str) -> IncomingCall:
    return IncomingCall(call_id, caller, now(), "support", **ivr)


async def owner_first_with_agent2_last(db: asyncpg.Pool) -> None:
    """Ivan talked with agent2 half an hour ago; the owner of his open ticket comes first."""
    await add_agents(db)
    await answered_call(db, "c-before", IVAN, "agent2", 300, now() - timedelta(minutes=30))
    await set_setting(
        db, scope=Scope.GLOBAL, scope_value=None, key="target_precedence",
        value="owner_first", actor="test",
    )  # fmt: skip


def target(decision: object) -> tuple[str, str]:
    assert isinstance(decision, StickyDecision), decision
    return decision.target.agent.name, decision.target.reason.value


async def test_the_external_owner_wins_under_owner_first(
    db: asyncpg.Pool, source: HttpTicketSource
) -> None:
    await owner_first_with_agent2_last(db)
    # Without the mirror (the built-in tables know no ticket of Ivan's): the last agent.
    builtin = RoutingService(db, default_region="RU", db_budget_seconds=BUDGET)
    assert target(await builtin.decide(call(), claim=False)) == ("agent2", "last_agent")
    assert await TicketMirrorSync(source, db).sync_once()

    decision = await routing(db).decide(call(), claim=False)
    assert target(decision) == ("agent3", CandidateReason.TICKET_OWNER.value)
    assert isinstance(decision, StickyDecision)
    assert [c.agent.name for c in decision.candidates] == ["agent3", "agent2"]
    ticket = decision.context.identity.ticket
    assert ticket is not None
    assert (ticket.external_id, ticket.mirrored_from, ticket.local_id) == ("CRM-5001", "http", None)


async def test_a_keyed_ticket_or_account_finds_the_mirrored_ticket_too(
    db: asyncpg.Pool, source: HttpTicketSource
) -> None:
    await owner_first_with_agent2_last(db)
    assert await TicketMirrorSync(source, db).sync_once()
    stranger = "+79990001122"  # another phone, but he keys his ticket or account
    service = routing(db)
    by_ticket = await service.decide(call(caller=stranger, ivr_ticket="CRM-5001"), claim=False)
    assert target(by_ticket) == ("agent3", "ticket_owner")
    by_account = await service.decide(call(caller=stranger, ivr_account="100201"), claim=False)
    assert target(by_account) == ("agent3", "ticket_owner")


async def test_the_mirror_follows_the_source_incrementally(
    db: asyncpg.Pool, service: TicketService, source: HttpTicketSource
) -> None:
    await owner_first_with_agent2_last(db)
    metrics = PrometheusObserver()
    sync = TicketMirrorSync(source, db, observer=metrics)
    assert await sync.sync_once()  # the first one is full
    first = await source_state(db, SOURCE_NAME)
    assert first is not None
    assert first.last_full_sync_at is not None

    # Reassigned in the CRM: the next (incremental) sync brings it, and the next call obeys.
    service.book.put_ticket({"id": "CRM-5001", "owner": "agent4"})
    # A ticket whose update time is older than what was seen: only a full resync finds it.
    service.book.tickets["CRM-OLD"] = {
        "id": "CRM-OLD", "customer": "crm-18", "status": "open", "owner": "agent1",
        "subject": "Forgotten", "updated_at": "2020-01-01T00:00:00+00:00",
    }  # fmt: skip
    assert await sync.sync_once()
    assert target(await routing(db).decide(call(), claim=False)) == ("agent4", "ticket_owner")
    mirrored = {r["external_id"] for r in await db.fetch("SELECT external_id FROM ticket_mirror")}
    assert mirrored == {"CRM-5001", "CRM-5002"}
    again = await source_state(db, SOURCE_NAME)
    assert again is not None
    assert again.last_full_sync_at == first.last_full_sync_at
    assert (
        metrics.registry.get_sample_value(
            "sticky_router_ticket_mirror_syncs_total", {"source": "http", "kind": "incremental"}
        )
        == 1
    )

    # Resolved in the CRM: it leaves the mirror, and Ivan's last agent is first again.
    service.book.put_ticket({"id": "CRM-5001", "status": "resolved"})
    assert await sync.sync_once()
    assert target(await routing(db).decide(call(), claim=False)) == ("agent2", "last_agent")

    # Deleted in the CRM (never reported as changed): the full resync drops it, finds the old one.
    del service.book.tickets["CRM-5002"]
    assert await sync.sync_once(full=True)
    mirrored = {r["external_id"] for r in await db.fetch("SELECT external_id FROM ticket_mirror")}
    assert mirrored == {"CRM-OLD"}


async def test_a_number_two_crm_customers_share_pops_no_ticket(
    db: asyncpg.Pool, service: TicketService, source: HttpTicketSource
) -> None:
    await owner_first_with_agent2_last(db)
    service.book.customers["crm-18"]["phones"].append(IVAN)
    service.book.put_ticket({"id": "CRM-5002", "owner": "agent1"})
    assert await TicketMirrorSync(source, db).sync_once()
    decision = await routing(db).decide(call(), claim=False)
    assert decision.context.identity.ticket is None
    assert target(decision) == ("agent2", "last_agent")


async def test_the_mirror_reads_agents_by_login_and_the_local_customer_stays(
    db: asyncpg.Pool, source: HttpTicketSource
) -> None:
    """A caller the product knows keeps their customer record (class, history); the ticket is
    the CRM's. A login the product has no agent for is no candidate."""
    await owner_first_with_agent2_last(db)
    await add_customer(db, "Ivan Petrov", "100201", IVAN)
    await db.execute(
        "INSERT INTO tickets (external_id, customer_id, subject, owner_agent_id) "
        "SELECT 'T-LOCAL', id, 'old local ticket', (SELECT id FROM agents WHERE name = 'agent1') "
        "FROM customers"
    )
    assert await TicketMirrorSync(source, db).sync_once()
    decision = await routing(db).decide(call(), claim=False)
    assert decision.context.identity.customer is not None
    assert target(decision) == ("agent3", "ticket_owner")  # not agent1 of the local ticket
    await db.execute("UPDATE ticket_mirror SET owner_login = 'nobody-here'")
    assert target(await routing(db).decide(call(), claim=False)) == ("agent2", "last_agent")


@pytest.mark.parametrize(
    ("fault", "failure"), [("stopped", "unavailable"), ("slow", "timeout"), ("garbage", "invalid")]
)
async def test_a_failing_source_never_delays_the_decision_and_is_counted(
    db: asyncpg.Pool,
    service: TicketService,
    source: HttpTicketSource,
    fault: str,
    failure: str,
) -> None:
    await owner_first_with_agent2_last(db)
    metrics = PrometheusObserver()
    sync = TicketMirrorSync(source, db, timing=SyncTiming(timeout_seconds=2.0), observer=metrics)
    assert await sync.sync_once()
    if fault == "stopped":
        await service.stop()
    elif fault == "slow":
        service.book.delay_seconds = 10.0
    else:
        service.book.garbage = True

    with structlog.testing.capture_logs() as logs:
        syncing = asyncio.create_task(sync.sync_once())
        await asyncio.sleep(0.05)  # the sync is now waiting for the source
        decisions = []
        service_ = routing(db, metrics)
        for number in range(5):
            incoming = call(f"c-{fault}-{number}")
            started = time.perf_counter()
            decision = await service_.decide(incoming)
            decisions.append((time.perf_counter() - started, decision))
            await service_.release(incoming.call_id, "answered", now())  # the call is over
        assert await syncing is False

    for elapsed, decision in decisions:
        assert elapsed < BUDGET
        assert target(decision) == ("agent3", "ticket_owner")
    assert (
        metrics.registry.get_sample_value(
            "sticky_router_ticket_source_failures_total",
            {"source": "http", "operation": "sync", "failure": failure},
        )
        == 1
    )
    state = await source_state(db, SOURCE_NAME)
    assert state is not None
    assert state.failures_in_a_row == 1
    assert state.last_error is not None
    assert state.last_error.startswith(failure)
    (line,) = [entry for entry in logs if entry["event"] == "ticket_source_failed"]
    assert line["failure"] == failure
    assert "hunter2" not in repr(line)
    assert "Ivan" not in repr(line)
    mirrored = await db.fetchval("SELECT owner_login FROM ticket_mirror WHERE external_id = $1",
                                 "CRM-5001")  # fmt: skip
    assert mirrored == "agent3"  # the last good state stays


async def test_a_full_resync_keeps_what_the_source_lists_even_if_the_mirror_looks_newer(
    db: asyncpg.Pool, source: HttpTicketSource
) -> None:
    """A source whose clock went back (or a restored backup) must not have its tickets swept
    away: an incremental page never undoes a newer state, a full resync is the whole truth."""
    await owner_first_with_agent2_last(db)
    sync = TicketMirrorSync(source, db)
    assert await sync.sync_once(full=True)
    await db.execute("UPDATE ticket_mirror SET updated_at = now() + interval '1 day', "
                     "owner_login = 'agent1'")  # fmt: skip
    assert await sync.sync_once(full=False)
    assert await db.fetchval("SELECT count(*) FROM ticket_mirror WHERE owner_login = 'agent1'") == 2
    assert await sync.sync_once(full=True)
    owners = {
        r["external_id"]: r["owner_login"] for r in await db.fetch("SELECT * FROM ticket_mirror")
    }
    assert owners == {"CRM-5001": "agent3", "CRM-5002": None}


async def test_forgetting_a_customer_also_forgets_which_crm_ticket_their_calls_had(
    db: asyncpg.Pool, source: HttpTicketSource
) -> None:
    await owner_first_with_agent2_last(db)
    await add_customer(db, "Ivan Petrov", "100201", IVAN)
    assert await TicketMirrorSync(source, db).sync_once()
    decision = await routing(db).decide(call("c-crm"))
    recorder = CallRecorder(db)
    assert await recorder.call_started(call("c-crm"), decision.context.number)
    assert await recorder.decision_made(DecisionMade.of(decision))
    ref = await db.fetchval("SELECT ticket_ref FROM interactions WHERE call_id = 'c-crm'")
    assert ref == "CRM-5001"
    await forget_customer(db, ErasureKey("number", IVAN), actor="test", now=now())
    row = await db.fetchrow(
        "SELECT ticket_ref, caller_number FROM interactions WHERE call_id = 'c-crm'"
    )
    assert row is not None
    assert (row["ticket_ref"], row["caller_number"]) == (None, None)


async def test_two_processes_ask_the_source_once_per_interval_between_them(
    db: asyncpg.Pool, service: TicketService, source: HttpTicketSource
) -> None:
    """The router and the FastAGI process both keep the mirror; the one that comes second in an
    interval finds it fresh and leaves the source alone (seen on the sandbox before: two
    `ticket_mirror_synced` lines every 30 s, the ticket system asked twice)."""
    await add_agents(db)
    moment = [now()]
    timing = SyncTiming(min_gap=timedelta(seconds=24))  # 80% of a 30 s interval
    agi_metrics = PrometheusObserver()
    router_side, agi_side = (
        TicketMirrorSync(source, db, timing=timing, clock=lambda: moment[0], observer=observer)
        for observer in (None, agi_metrics)
    )
    assert await router_side.sync_once()
    synced_at = moment[0]
    asked = service.book.requests

    moment[0] += timedelta(seconds=10)
    assert await agi_side.sync_once()  # the mirror is 10 s old: nothing to ask
    assert service.book.requests == asked
    # ... and this process's freshness gauge (what the stale-mirror alert reads) follows it.
    fresh = agi_metrics.registry.get_sample_value(
        "sticky_router_ticket_mirror_last_sync_timestamp_seconds", {"source": "http"}
    )
    assert fresh == pytest.approx(synced_at.timestamp(), abs=0.001)
    moment[0] += timedelta(seconds=20)  # 30 s since the last sync: its turn
    assert await agi_side.sync_once()
    assert service.book.requests == asked + 1
    # A sync asked for by name (the admin's "full resync", a test) always asks.
    assert await router_side.sync_once(full=True)
    assert service.book.requests == asked + 2
