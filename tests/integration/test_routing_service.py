"""The decision core on a real PostgreSQL: identity, history, settings, exclusions, claims."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import structlog

from devkit.demo import CUSTOMERS, seed_demo
from sticky_router.process.logs import configure_logging
from sticky_router.routing_core import (
    CallRecorder,
    HangupSide,
    IncomingCall,
    QueueDecision,
    QueueReason,
    StickyDecision,
)
from sticky_router.routing_core.decision import BlockedDecision, CandidateReason, Exclusion
from sticky_router.routing_core.events import (
    CallEnded,
    CallStarted,
    DecisionMade,
    LegAnswered,
    LegRang,
)
from sticky_router.routing_core.service import RoutingService
from sticky_router.routing_core.settings import InvalidSetting, Scope
from sticky_router.routing_core.store.applier import JournalApplier
from sticky_router.routing_core.store.journal import Journal
from sticky_router.routing_core.store.lookup import HISTORY_DEPTH
from sticky_router.routing_core.store.settings_store import clear_setting, set_setting
from tests.integration.helpers import add_agents, add_customer, answered_call, service

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
IVAN = "+79123456701"


def incoming(
    caller_id: str | None,
    at: datetime = NOW,
    call_id: str = "c-new",
    queue: str = "support",
    did: str | None = None,
    ivr_account: str | None = None,
    ivr_ticket: str | None = None,
) -> IncomingCall:
    return IncomingCall(call_id, caller_id, at, queue, did, ivr_ticket, ivr_account)


DEMO_EXPECTATIONS = {
    "Ivan Petrov": ("sticky", "agent2"),
    "Olga Morozova": ("sticky", "agent3"),
    "Sergey Volkov": ("queue", "window_expired"),
    "Romashka LLC": ("queue", "ambiguous_caller"),
    "Elena Fedorova": ("sticky", "agent4"),
    "Pavel Orlov": ("sticky", "agent4"),
    "Nikolai Zaitsev": ("queue", "do_not_pair"),
    "Maria Lebedeva": ("blocked", "supervisors"),
    "Igor Belov": ("queue", "no_history"),
    "Tatiana Kozlova": ("sticky", "agent1"),
}


async def test_every_demo_story_decides_as_told(db: asyncpg.Pool) -> None:
    await seed_demo(db, NOW)
    routing = service(db)
    told = {}
    for customer in CUSTOMERS:
        if customer.name not in DEMO_EXPECTATIONS:
            continue
        decision = await routing.decide(incoming(customer.numbers[0]), claim=False)
        if isinstance(decision, StickyDecision):
            told[customer.name] = ("sticky", decision.target.agent.name)
        elif isinstance(decision, QueueDecision):
            told[customer.name] = ("queue", decision.reason.value)
        else:
            told[customer.name] = ("blocked", decision.block.destination)
    assert told == DEMO_EXPECTATIONS


@pytest.mark.parametrize(("minutes", "sticky"), [(119, True), (121, False)])
async def test_window_edge_on_real_postgres(db: asyncpg.Pool, minutes: int, sticky: bool) -> None:
    await add_agents(db)
    await add_customer(db, "Ivan", "100201", IVAN)
    await answered_call(db, "c-1", IVAN, "agent2", 360, NOW - timedelta(minutes=minutes))
    decision = await service(db).decide(incoming(IVAN))
    if sticky:
        assert isinstance(decision, StickyDecision)
        assert decision.target.agent.name == "agent2"
    else:
        assert isinstance(decision, QueueDecision)
        assert decision.reason is QueueReason.WINDOW_EXPIRED


async def test_first_call_goes_to_queue_and_the_answer_is_learned(db: asyncpg.Pool) -> None:
    await add_agents(db)
    first = await answered_call(
        db, "c-1", "8 (912) 345-67-01", "agent2", 60, NOW - timedelta(minutes=5)
    )
    assert isinstance(first, QueueDecision)
    assert first.reason is QueueReason.NO_HISTORY
    # Unknown customer: history comes from calls, found again by the normalised number.
    callback = await service(db).decide(incoming("sip:+79123456701@carrier.example"))
    assert isinstance(callback, StickyDecision)
    assert callback.target.agent.name == "agent2"
    assert callback.target.reason is CandidateReason.LAST_AGENT


async def test_caller_who_hung_up_during_transfer_returns_to_the_specialist(
    db: asyncpg.Pool,
) -> None:
    await add_agents(db)
    await add_customer(db, "Olga", "100202", "+79123456702")
    await answered_call(
        db, "c-1", "+79123456702", "agent1", 120, NOW - timedelta(minutes=3), transfer_to="agent3"
    )
    decision = await service(db).decide(incoming("+79123456702"))
    assert isinstance(decision, StickyDecision)
    assert decision.target.agent.name == "agent3"
    assert decision.target.reason is CandidateReason.ESCALATED_TO_SPECIALIST


async def _snapshot(db: asyncpg.Pool) -> str:
    rows = await db.fetch(
        "SELECT i.*, (SELECT json_agg(l ORDER BY l.leg_id) FROM interaction_legs l "
        "WHERE l.interaction_id = i.id) AS legs FROM interactions i ORDER BY i.id"
    )
    return json.dumps([dict(row) for row in rows], default=str, sort_keys=True)


async def test_recording_the_same_event_twice_changes_nothing(db: asyncpg.Pool) -> None:
    from sticky_router.routing_core import CallRecorder, HangupSide

    await add_agents(db)
    await answered_call(db, "c-1", IVAN, "agent1", 120, NOW, transfer_to="agent3")
    before = await _snapshot(db)
    recorder = CallRecorder(db)
    later = NOW + timedelta(minutes=7)
    call = incoming(IVAN, at=later, call_id="c-1", queue="other")
    decision = await service(db).decide(incoming(IVAN, at=later, call_id="c-1"), claim=False)
    await recorder.call_started(call, "+70000000000")
    await recorder.decision_made(DecisionMade.of(decision))
    await recorder.leg_rang("c-1", "leg-1", "agent4", later)
    await recorder.leg_answered("c-1", "leg-1", later)
    await recorder.transfer("c-1", "leg-1", "leg-2", "agent3", later)
    await recorder.leg_ended("c-1", "leg-1", later, "BUSY", HangupSide.CALLER)
    await recorder.leg_ended("c-1", "leg-2", later, "ANSWER", HangupSide.AGENT)
    await recorder.call_ended("c-1", later, HangupSide.AGENT, "sticky", "no_answer")
    assert await _snapshot(db) == before


async def test_events_for_unknown_calls_or_agents_are_refused(db: asyncpg.Pool) -> None:
    from sticky_router.routing_core import CallRecorder

    await add_agents(db)
    recorder = CallRecorder(db)
    assert not await recorder.leg_rang("nobody", "leg-1", "agent1", NOW)
    assert await recorder.call_started(incoming(IVAN, call_id="c-9"), IVAN)
    assert not await recorder.leg_rang("c-9", "leg-1", "PJSIP/agent99", NOW)
    assert not await recorder.leg_answered("c-9", "leg-1", NOW)
    assert not await recorder.call_ended("nobody", NOW, None, "queue")


async def test_ivr_keys_outrank_the_number(db: asyncpg.Pool) -> None:
    ids = await add_agents(db)
    customer = await add_customer(db, "Ivan", "100201", IVAN)
    await db.execute(
        "INSERT INTO tickets (external_id, customer_id, subject, owner_agent_id) "
        "VALUES ('T-1001', $1, 'No internet', $2)",
        customer,
        ids["agent3"],
    )
    await answered_call(db, "c-1", IVAN, "agent2", 300, NOW - timedelta(minutes=30))
    routing = service(db)

    by_account = await routing.decide(incoming("anonymous", ivr_account="100201"), claim=False)
    assert by_account.context.key is not None
    assert (by_account.context.key.kind.value, by_account.context.key.value) == (
        "account",
        "100201",
    )
    assert by_account.context.identity.ticket is not None
    assert by_account.context.identity.ticket.external_id == "T-1001"
    assert isinstance(by_account, StickyDecision)  # the customer's calls, whatever phone they used
    assert by_account.target.agent.name == "agent2"

    by_ticket = await routing.decide(incoming("+79990001122", ivr_ticket="t-1001"), claim=False)
    assert by_ticket.context.key is not None
    assert by_ticket.context.key.kind.value == "ticket"
    assert by_ticket.context.identity.customer is not None
    assert by_ticket.context.identity.customer.name == "Ivan"

    unknown_ticket = await routing.decide(incoming(IVAN, ivr_ticket="T-404"), claim=False)
    assert unknown_ticket.context.key is not None
    assert unknown_ticket.context.key.kind.value == "number"


async def test_settings_scopes_apply_to_the_next_call_and_are_audited(db: asyncpg.Pool) -> None:
    await add_agents(db)
    await add_customer(db, "Elena", "100206", "+79123456706", class_name="vip")
    await answered_call(db, "c-1", "+79123456706", "agent4", 300, NOW - timedelta(minutes=200))
    routing = service(db)
    call = incoming("+79123456706", did="+74950000000")

    assert isinstance(await routing.decide(call, claim=False), QueueDecision)
    await set_setting(db, scope=Scope.QUEUE, scope_value="support", key="window_minutes",
                      value=180, actor="admin")  # fmt: skip
    assert isinstance(await routing.decide(call, claim=False), QueueDecision)
    await set_setting(db, scope=Scope.CUSTOMER_CLASS, scope_value="vip", key="window_minutes",
                      value=240, actor="admin")  # fmt: skip
    decision = await routing.decide(call, claim=False)
    assert isinstance(decision, StickyDecision)
    assert decision.context.settings.sources["window_minutes"] is Scope.CUSTOMER_CLASS

    await set_setting(db, scope=Scope.CUSTOMER_CLASS, scope_value="vip", key="window_minutes",
                      value=60, actor="boss")  # fmt: skip
    assert isinstance(await routing.decide(call, claim=False), QueueDecision)
    assert await clear_setting(db, scope=Scope.CUSTOMER_CLASS, scope_value="vip",
                               key="window_minutes", actor="boss")  # fmt: skip

    audit = await db.fetch(
        "SELECT actor, scope_kind, key, old_value, new_value FROM settings_audit ORDER BY id"
    )
    assert [(r["actor"], r["scope_kind"], r["old_value"], r["new_value"]) for r in audit] == [
        ("admin", "queue", None, "180"),
        ("admin", "customer_class", None, "240"),
        ("boss", "customer_class", "240", "60"),
        ("boss", "customer_class", "60", None),
    ]


async def test_invalid_setting_is_refused_and_nothing_is_stored(db: asyncpg.Pool) -> None:
    with pytest.raises(InvalidSetting, match="ring_timeout_seconds"):
        await set_setting(db, scope=Scope.GLOBAL, scope_value=None, key="ring_timeout_seconds",
                          value=300, actor="admin")  # fmt: skip
    with pytest.raises(InvalidSetting, match="needs a value"):
        await set_setting(db, scope=Scope.QUEUE, scope_value="", key="window_minutes",
                          value=30, actor="admin")  # fmt: skip
    assert await db.fetchval("SELECT count(*) FROM routing_settings") == 0
    assert await db.fetchval("SELECT count(*) FROM settings_audit") == 0


async def test_two_callbacks_at_once_never_both_get_the_agent(db: asyncpg.Pool) -> None:
    """Both callbacks read the candidates before either claims: the widest race there is."""
    await add_agents(db)
    await answered_call(db, "c-1", IVAN, "agent2", 300, NOW - timedelta(minutes=10))
    both_have_read = asyncio.Barrier(2)

    async def hold_until_both_have_read(_call: IncomingCall) -> None:
        await both_have_read.wait()

    routing = RoutingService(
        db, default_region="RU", db_budget_seconds=5, before_claim=hold_until_both_have_read
    )
    first, second = await asyncio.gather(
        routing.decide(incoming(IVAN, call_id="c-a")), routing.decide(incoming(IVAN, call_id="c-b"))
    )
    targets = [d.target.agent.name for d in (first, second) if isinstance(d, StickyDecision)]
    assert targets == ["agent2"]
    loser = second if isinstance(first, StickyDecision) else first
    assert isinstance(loser, QueueDecision)
    assert loser.reason is QueueReason.BUSY
    assert [e.exclusion for e in loser.excluded] == [Exclusion.CLAIMED]


async def test_a_sticky_decision_is_told_before_its_claim_is_written_and_others_never(
    db: asyncpg.Pool,
) -> None:
    """`decided` lets the ARI application send its first requests while the claim is written.
    What it is told is the decision before the claim, which may still move on: the loser of a
    race for agent2 is told agent2, and decided to the queue."""
    await add_agents(db)
    await answered_call(db, "c-1", IVAN, "agent2", 300, NOW - timedelta(minutes=10))
    claim_may_go = asyncio.Event()

    async def hold_the_claim(_call: IncomingCall) -> None:
        await claim_may_go.wait()

    routing = RoutingService(
        db, default_region="RU", db_budget_seconds=5, before_claim=hold_the_claim
    )
    told: list[tuple[str, str]] = []

    def decided(decision: StickyDecision) -> None:
        told.append((decision.context.call.call_id, decision.target.agent.name))

    deciding = asyncio.create_task(routing.decide(incoming(IVAN, call_id="c-a"), decided=decided))
    async with asyncio.timeout(5):
        while not told:  # noqa: ASYNC110 (the hook is the event)
            await asyncio.sleep(0.01)
    assert told == [("c-a", "agent2")]
    assert not deciding.done()
    assert await db.fetchval("SELECT count(*) FROM sticky_claims") == 0  # not written yet
    claim_may_go.set()
    assert isinstance(await deciding, StickyDecision)
    assert await db.fetchval("SELECT call_id FROM sticky_claims") == "c-a"

    loser = await routing.decide(incoming(IVAN, call_id="c-b"), decided=decided)
    assert isinstance(loser, QueueDecision)
    assert told[-1] == ("c-b", "agent2")

    await routing.decide(incoming("+79990000001", call_id="c-c"), decided=decided)  # no history
    await routing.decide(incoming(IVAN, call_id="c-d"), claim=False, decided=decided)  # preview
    assert [call_id for call_id, _ in told] == ["c-a", "c-b"]


async def test_a_released_or_expired_claim_frees_the_agent(db: asyncpg.Pool) -> None:
    await add_agents(db)
    await answered_call(db, "c-1", IVAN, "agent2", 300, NOW - timedelta(minutes=10))
    routing = service(db)
    assert isinstance(await routing.decide(incoming(IVAN, call_id="c-a")), StickyDecision)
    assert isinstance(await routing.decide(incoming(IVAN, call_id="c-b")), QueueDecision)
    # Claiming again for the same call is idempotent.
    assert isinstance(await routing.decide(incoming(IVAN, call_id="c-a")), StickyDecision)

    assert await routing.release("c-a", "no_answer", NOW) == 1
    assert isinstance(await routing.decide(incoming(IVAN, call_id="c-b")), StickyDecision)

    # c-b's claim is never released (its router died): after the hold it expires by itself.
    later = NOW + timedelta(minutes=2)
    assert isinstance(await routing.decide(incoming(IVAN, at=later, call_id="c-c")), StickyDecision)
    expired = await db.fetchval("SELECT outcome FROM sticky_claims WHERE call_id = 'c-b'")
    assert expired == "expired"


async def test_cap_counts_sticky_calls_of_the_last_hour(db: asyncpg.Pool) -> None:
    ids = await add_agents(db)
    await answered_call(db, "c-1", IVAN, "agent2", 300, NOW - timedelta(minutes=10))
    await db.executemany(
        "INSERT INTO sticky_claims (call_id, agent_id, claimed_at, expires_at, released_at, "
        "outcome) VALUES ($1, $2, $3, $3, $3, 'answered')",
        [(f"old-{n}", ids["agent2"], NOW - timedelta(minutes=5 + n)) for n in range(6)],
    )
    decision = await service(db).decide(incoming(IVAN))
    assert isinstance(decision, QueueDecision)
    assert decision.reason is QueueReason.CAP_REACHED
    # All six still count four minutes later; an hour after them, none does.
    soon = await service(db).decide(incoming(IVAN, at=NOW + timedelta(minutes=4)), claim=False)
    assert isinstance(soon, QueueDecision)
    assert soon.reason is QueueReason.CAP_REACHED
    later = await service(db).decide(incoming(IVAN, at=NOW + timedelta(minutes=56)), claim=False)
    assert isinstance(later, StickyDecision)


async def test_abuse_ban_needs_approval_and_expires(db: asyncpg.Pool) -> None:
    ids = await add_agents(db)
    customer = await add_customer(db, "Nikolai", "100208", IVAN)
    await answered_call(db, "c-1", IVAN, "agent2", 300, NOW - timedelta(minutes=10))
    await db.execute(
        "INSERT INTO do_not_pair (customer_id, agent_id, kind, reason, status, requested_by, "
        "expires_at) VALUES ($1, $2, 'abuse', 'insults', 'pending', 'agent2', $3)",
        customer,
        ids["agent2"],
        NOW + timedelta(days=1),
    )
    routing = service(db)
    assert isinstance(await routing.decide(incoming(IVAN), claim=False), StickyDecision)
    await db.execute("UPDATE do_not_pair SET status = 'approved', reviewed_by = 'supervisor'")
    banned = await routing.decide(incoming(IVAN), claim=False)
    assert isinstance(banned, QueueDecision)
    assert banned.reason is QueueReason.DO_NOT_PAIR
    await db.execute("UPDATE do_not_pair SET expires_at = $1", NOW - timedelta(seconds=1))
    assert isinstance(await routing.decide(incoming(IVAN), claim=False), StickyDecision)


async def test_block_on_a_number_holds_even_when_the_caller_keys_an_account(
    db: asyncpg.Pool,
) -> None:
    await add_agents(db)
    await add_customer(db, "Maria", "100209", "+79123456709")
    await db.execute(
        "INSERT INTO caller_blocks (e164, reason, destination_kind, destination, set_by, "
        "expires_at) VALUES ('+79123456709', 'threats', 'message', 'policy-notice', 'boss', $1)",
        NOW + timedelta(hours=1),
    )
    decision = await service(db).decide(incoming("+79123456709", ivr_account="100209"))
    assert isinstance(decision, BlockedDecision)
    assert decision.block.destination == "policy-notice"
    later = await service(db).decide(incoming("+79123456709", at=NOW + timedelta(hours=2)))
    assert not isinstance(later, BlockedDecision)


async def test_database_that_stops_answering_sends_the_call_to_the_queue(db: asyncpg.Pool) -> None:
    await add_agents(db)
    await answered_call(db, "c-1", IVAN, "agent2", 300, NOW - timedelta(minutes=10))
    locker = await db.acquire()
    try:
        transaction = locker.transaction()
        await transaction.start()
        await locker.execute("LOCK TABLE interactions IN ACCESS EXCLUSIVE MODE")
        started = asyncio.get_running_loop().time()
        decision = await service(db, budget=0.3).decide(incoming(IVAN))
        elapsed = asyncio.get_running_loop().time() - started
        await transaction.rollback()
    finally:
        await db.release(locker)
    assert isinstance(decision, QueueDecision)
    assert decision.reason is QueueReason.DB_TIMEOUT
    assert decision.context.number == IVAN  # the queue still gets the caller's context
    assert elapsed < 1.0


async def test_silent_or_absent_database_still_answers_queue() -> None:
    async def never_answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # accept and say nothing, like a hung server

    silent = await asyncio.start_server(never_answer, "127.0.0.1", 0)
    port = silent.sockets[0].getsockname()[1]
    async with silent:
        pool = await asyncpg.create_pool(f"postgresql://x@127.0.0.1:{port}/x", min_size=0)
        decision = await RoutingService(pool, default_region="RU", db_budget_seconds=0.3).decide(
            incoming(IVAN)
        )
        assert isinstance(decision, QueueDecision)
        assert decision.reason is QueueReason.DB_TIMEOUT
        pool.terminate()
    closed = await asyncpg.create_pool(f"postgresql://x@127.0.0.1:{port}/x", min_size=0)
    decision = await RoutingService(closed, default_region="RU", db_budget_seconds=2).decide(
        incoming(IVAN)
    )
    assert isinstance(decision, QueueDecision)
    assert decision.reason is QueueReason.DB_ERROR
    closed.terminate()


async def test_decision_log_line_has_ids_and_no_personal_data(
    db: asyncpg.Pool, capsys: pytest.CaptureFixture[str]
) -> None:
    await seed_demo(db, NOW)
    configure_logging("info", "json")
    capsys.readouterr()
    try:
        await service(db).decide(incoming(IVAN, call_id="call-42"), claim=False)
    finally:
        structlog.reset_defaults()
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line]
    decisions = [line for line in lines if line["event"] == "routing_decision"]
    assert len(decisions) == 1
    line = decisions[0]
    assert line["call_id"] == "call-42"
    assert line["target"] == "agent2"
    text = json.dumps(line)
    for personal in ("912345", "Ivan", "Petrov", "No internet"):
        assert personal not in text


async def test_calls_abandoned_in_the_queue_do_not_push_the_last_agent_out(
    db: asyncpg.Pool,
) -> None:
    """Five give-ups in the queue after a real conversation: more than the history depth."""
    await add_agents(db)
    await add_customer(db, "Ivan", "100201", IVAN)
    await answered_call(db, "c-1", IVAN, "agent2", 360, NOW - timedelta(minutes=60))
    recorder = CallRecorder(db)
    for index in range(HISTORY_DEPTH + 1):
        at = NOW - timedelta(minutes=50 - index)
        abandoned = IncomingCall(f"gave-up-{index}", IVAN, at, "support")
        await recorder.call_started(abandoned, IVAN)
        await recorder.leg_rang(abandoned.call_id, f"gave-up-{index}-leg", "PJSIP/agent1", at)
        await recorder.call_ended(abandoned.call_id, at + timedelta(seconds=20), HangupSide.CALLER)
    decision = await service(db).decide(incoming(IVAN))
    assert isinstance(decision, StickyDecision)
    assert decision.target.agent.name == "agent2"


async def test_a_resolved_ticket_ends_stickiness_when_the_setting_says_so(db: asyncpg.Pool) -> None:
    """Ivan's last call (42 min ago, with agent2) was about T-1001. Read from PostgreSQL: while
    T-1001 is open he is sticky; resolved, and with no window after resolution, he is not; the
    ticket of a call only counts for that call."""
    await seed_demo(db, NOW)
    routing = service(db)
    await set_setting(db, scope=Scope.GLOBAL, scope_value=None,
                      key="resolved_ticket_window_minutes", value=0, actor="test")  # fmt: skip
    assert isinstance(await routing.decide(incoming(IVAN), claim=False), StickyDecision)
    await db.execute("UPDATE tickets SET status = 'resolved' WHERE external_id = 'T-1001'")
    decision = await routing.decide(incoming(IVAN), claim=False)
    assert isinstance(decision, QueueDecision)
    assert decision.reason is QueueReason.TICKET_RESOLVED
    assert decision.context.last_contact is not None
    assert decision.context.last_contact.agent.name == "agent2"
    await set_setting(db, scope=Scope.GLOBAL, scope_value=None,
                      key="resolved_ticket_window_minutes", value=60, actor="test")  # fmt: skip
    assert isinstance(await routing.decide(incoming(IVAN), claim=False), StickyDecision)
    await db.execute("UPDATE tickets SET status = 'closed' WHERE external_id = 'T-1001'")
    await set_setting(db, scope=Scope.GLOBAL, scope_value=None,
                      key="resolved_ticket_window_minutes", value=30, actor="test")  # fmt: skip
    decision = await routing.decide(incoming(IVAN), claim=False)
    assert isinstance(decision, QueueDecision)
    assert decision.reason is QueueReason.TICKET_RESOLVED


async def test_a_journal_pass_applies_its_events_on_one_connection(
    db: asyncpg.Pool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pass checks one connection out of the pool for all its events (a checkout per
    statement was a tenth of the router's CPU per call), and records them as before: the
    answer's two statements in one transaction on that connection, a late event still waits
    for its call."""
    await add_agents(db)
    journal = Journal.open(tmp_path / "router.journal")
    applier = JournalApplier(journal, CallRecorder(db))
    checkouts = 0
    acquire = asyncpg.pool.Pool.acquire

    def counted(pool: asyncpg.Pool, *args: Any, **kwargs: Any) -> Any:
        nonlocal checkouts
        checkouts += 1
        return acquire(pool, *args, **kwargs)

    try:
        await journal.append(
            LegRang("c-late", "leg-0", "agent1", NOW),  # its call never starts here
            CallStarted("c-pass", NOW, "support", IVAN),
            DecisionMade("c-pass", "queue", "no_history"),
            LegRang("c-pass", "leg-1", "agent2", NOW),
            LegAnswered("c-pass", "leg-1", NOW + timedelta(seconds=3)),
            CallEnded("c-pass", NOW + timedelta(minutes=2), HangupSide.AGENT, "queue"),
        )
        monkeypatch.setattr(asyncpg.pool.Pool, "acquire", counted)
        assert await applier.apply_due()
        monkeypatch.undo()
        assert checkouts == 1
        row = await db.fetchrow(
            "SELECT route, answered_at, ended_at, outcome FROM interactions WHERE call_id = $1",
            "c-pass",
        )
        assert row is not None
        assert (row["route"], row["outcome"]) == ("queue", "queue")
        assert row["answered_at"] == NOW + timedelta(seconds=3)
        assert row["ended_at"] == NOW + timedelta(minutes=2)
        assert journal.backlog == 1  # c-late, put off until its call is known
        assert [entry.call_id for entry in (await journal.take()).entries] == []
    finally:
        await journal.close()
