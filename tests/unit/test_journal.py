"""The call journal and its applier, on a real SQLite file, against a recorder that can be told
to fail (the real PostgreSQL cases are in tests/integration/test_journal_postgres.py and the
end-to-end ones in tests/e2e/test_durability.py)."""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
import signal
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest
import structlog

from sticky_router.routing_core.events import (
    CallbackDialled,
    CallbackRequested,
    CallEnded,
    CallEvent,
    CallRouted,
    CallStarted,
    DecisionMade,
    EscalatedToQueue,
    Handover,
    LegAnswered,
    LegEnded,
    LegRang,
    UnreadableEvent,
    decode,
    encode,
)
from sticky_router.routing_core.model import HangupSide, IncomingCall
from sticky_router.routing_core.store.applier import JournalApplier
from sticky_router.routing_core.store.journal import (
    DUE,
    NEXT_RETRY,
    OLDEST,
    Journal,
    JournalBusy,
)

AT = datetime(2026, 12, 2, 9, 0, 0, 123456, tzinfo=UTC)

EVERY_KIND: list[CallEvent] = [
    CallStarted("c1", AT, "support", "+79123456701", "74950000000", "A-1", "T-1", "2"),
    DecisionMade("c1", "sticky", "last_agent", "number", "+79123456701", 7, 8, 2),
    CallRouted("c1", "queue", "busy"),
    LegRang("c1", "l1", "PJSIP/agent2", AT, "l0", consultation=True),
    Handover("c1", "l1"),
    EscalatedToQueue("c1", "second-line"),
    LegAnswered("c1", "l1", AT),
    LegEnded("c1", "l1", AT, "ANSWER", HangupSide.AGENT),
    CallEnded("c1", AT, None, "abandoned", "caller_abandoned"),
    CallbackRequested("c1", "agent2", "+79123456701", "support", AT, AT),
    CallbackDialled(7, "c1", AT),
]


@dataclass
class FakeRecorder:
    """Applies nothing; notes each call. A call is known once started (or listed in `known`)."""

    calls: set[str] = field(default_factory=set)  # the calls whose row exists
    applied: list[tuple[str, str]] = field(default_factory=list)
    fail: BaseException | None = None
    fail_times: int = 0  # how many writes raise `fail` (of `failing_call`'s, if named)
    failing_call: str | None = None
    openings: list[str] = field(default_factory=list)  # calls opened in one write
    passes: int = 0  # the applier's passes (one session each)

    async def _note(self, kind: str, call_id: str) -> bool:
        failing = self.failing_call is None or self.failing_call == call_id
        if self.fail is not None and self.fail_times and failing:
            self.fail_times -= 1
            raise self.fail
        self.applied.append((kind, call_id))
        return call_id in self.calls

    async def known(self, call_id: str) -> bool:
        return call_id in self.calls

    @contextlib.asynccontextmanager
    async def session(self, checkout_seconds: float) -> AsyncIterator[FakeRecorder]:
        self.passes += 1
        yield self

    async def call_started(self, call: IncomingCall, number: str | None) -> bool:
        self.calls.add(call.call_id)
        return await self._note("CallStarted", call.call_id)

    async def call_opened(
        self, started: CallStarted, made: DecisionMade, routed: CallRouted | None
    ) -> None:
        """One write (one chance to fail) with the effect of the two or three."""
        await self._note("CallStarted", started.call_id)
        self.calls.add(started.call_id)
        self.applied += [("DecisionMade", made.call_id)]
        if routed is not None:
            self.applied += [("CallRouted", routed.call_id)]
        self.openings.append(started.call_id)

    async def decision_made(self, made: DecisionMade) -> bool:
        return await self._note("DecisionMade", made.call_id)

    async def call_routed(self, call_id: str, outcome: str, reason: str | None = None) -> bool:
        return await self._note("CallRouted", call_id)

    async def leg_rang(self, call_id: str, *_args: object, **_kw: object) -> bool:
        return await self._note("LegRang", call_id)

    async def handover(self, call_id: str, leg_id: str) -> bool:
        return await self._note("Handover", call_id)

    async def escalated_to_queue(self, call_id: str, queue: str) -> bool:
        return await self._note("EscalatedToQueue", call_id)

    async def leg_answered(self, call_id: str, leg_id: str, at: datetime) -> bool:
        return await self._note("LegAnswered", call_id)

    async def leg_ended(self, call_id: str, *_args: object, **_kw: object) -> bool:
        return await self._note("LegEnded", call_id)

    async def call_ended(self, call_id: str, *_args: object, **_kw: object) -> bool:
        return await self._note("CallEnded", call_id)

    async def callback_requested(self, asked: CallbackRequested) -> bool:
        return await self._note("CallbackRequested", asked.call_id)

    async def callback_dialled(self, callback_id: int, call_id: str, at: datetime) -> bool:
        return await self._note("CallbackDialled", call_id)


@pytest.fixture
async def journal(tmp_path: Path) -> AsyncIterator[Journal]:
    opened = Journal.open(tmp_path / "router.journal")
    yield opened
    await opened.close()


def started(call_id: str) -> CallStarted:
    return CallStarted(call_id, AT, "support", "+79990000001")


def ended(call_id: str) -> CallEnded:
    return CallEnded(call_id, AT, HangupSide.CALLER)


# --- events on disk ---------------------------------------------------------------------------


@pytest.mark.parametrize("event", EVERY_KIND, ids=lambda e: type(e).__name__)
def test_every_event_comes_back_from_its_json_unchanged(event: CallEvent) -> None:
    assert decode(encode(event)) == event


@pytest.mark.parametrize(
    "text", ["", "{}", '{"kind": "Nope"}', '{"kind": "CallEnded", "call_id": "x"}', "[1]"]
)
def test_anything_else_is_unreadable(text: str) -> None:
    with pytest.raises(UnreadableEvent):
        decode(text)


async def test_what_was_appended_is_there_after_a_reopen(tmp_path: Path) -> None:
    path = tmp_path / "router.journal"
    first = Journal.open(path)
    assert await first.append(*EVERY_KIND)
    await first.close()
    again = Journal.open(path)
    try:
        assert again.backlog == len(EVERY_KIND)
        assert [entry.event for entry in await again.due()] == EVERY_KIND
    finally:
        await again.close()


async def _after_killed(work: Callable[[str], None], path: Path) -> Journal:
    """Run `work` on the journal at `path` in a process of its own that dies by SIGKILL; the
    journal reopened after it (the dead process's lock went with it)."""
    process = multiprocessing.get_context("spawn").Process(target=work, args=(str(path),))
    process.start()
    await asyncio.to_thread(process.join, 30)
    assert process.exitcode == -signal.SIGKILL
    return Journal.open(path)


def _append_then_die(path: str) -> None:
    async def append() -> None:
        journal = Journal.open(path)
        assert await journal.append(started("killed"), ended("killed"))
        os.kill(os.getpid(), signal.SIGKILL)  # no close, no flush, no goodbye

    asyncio.run(append())


async def test_a_process_killed_right_after_append_returned_loses_nothing(tmp_path: Path) -> None:
    journal = await _after_killed(_append_then_die, tmp_path / "router.journal")
    try:
        assert [entry.event for entry in await journal.due()] == [
            started("killed"),
            ended("killed"),
        ]
    finally:
        await journal.close()


def _apply_then_die(path: str) -> None:
    async def apply() -> None:
        journal = Journal.open(path)
        assert await journal.append(started("done"), ended("done"), started("waiting"))
        first = await journal.take()
        # The bookkeeping commit (no fsync), then the next append (fsynced), then death.
        await journal.take(applied=[entry.seq for entry in first.entries[:2]])
        assert await journal.append(ended("waiting"))
        os.kill(os.getpid(), signal.SIGKILL)

    asyncio.run(apply())


async def test_a_process_killed_after_bookkeeping_keeps_it(tmp_path: Path) -> None:
    """Removing applied events is committed without an fsync: a killed process keeps it all
    the same (and the append after it is durable as ever)."""
    journal = await _after_killed(_apply_then_die, tmp_path / "router.journal")
    try:
        assert [entry.event for entry in await journal.due()] == [
            started("waiting"),
            ended("waiting"),
        ]
        assert journal.backlog == 2
    finally:
        await journal.close()


async def test_a_second_process_cannot_open_the_same_journal(journal: Journal) -> None:
    with pytest.raises(JournalBusy, match="in use by another process"):
        Journal.open(journal.path)


async def test_a_reporter_that_stops_waiting_loses_nothing(journal: Journal) -> None:
    """A call's task cancelled (shutdown, caller gone) while its report is on the way to disk:
    the report is kept, and the journal goes on taking others."""
    reporting = asyncio.ensure_future(journal.append(ended("cancelled")))
    other = asyncio.ensure_future(journal.append(ended("after")))
    await asyncio.sleep(0)  # both queued for the same commit, not on disk yet
    reporting.cancel()
    assert await asyncio.wait_for(other, 5)
    assert [entry.call_id for entry in await journal.due()] == ["cancelled", "after"]


async def test_a_full_journal_refuses_loudly_and_warns_before(tmp_path: Path) -> None:
    small = Journal.open(tmp_path / "small.journal", max_events=5)
    try:
        with structlog.testing.capture_logs() as logs:
            assert await small.append(*(started(f"c{n}") for n in range(4)))
            assert not await small.append(started("c4"), started("c5"))
        events = [entry["event"] for entry in logs]
        assert events.count("journal_nearly_full") == 1  # at 4 of 5 (80 %)
        assert events.count("journal_full_event_refused") == 1  # c5; c4 still fitted
        assert small.backlog == 5
        assert small.refused == 1
    finally:
        await small.close()


# --- applying ---------------------------------------------------------------------------------


async def test_events_are_applied_in_order_and_leave_the_journal(journal: Journal) -> None:
    recorder = FakeRecorder()
    applier = JournalApplier(journal, recorder)
    await journal.append(started("a"), LegRang("a", "l", "agent1", AT), ended("a"))
    assert await applier.apply_due()
    assert recorder.applied == [("CallStarted", "a"), ("LegRang", "a"), ("CallEnded", "a")]
    assert journal.backlog == 0
    assert not await journal.due()


async def test_a_pass_is_one_trip_to_the_journal_thread(
    journal: Journal, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Removing what a pass applied and reading the next batch share one trip (the thread
    hand-over costs the router more CPU per call than the SQL)."""
    recorder = FakeRecorder()
    applier = JournalApplier(journal, recorder)
    await journal.append(started("a"), ended("a"))
    trips: list[str] = []
    real_run = journal._run

    async def counted(work: Callable[..., object], *args: object) -> object:
        trips.append(getattr(work, "__name__", "?"))
        return await real_run(work, *args)

    monkeypatch.setattr(journal, "_run", counted)
    assert await applier.apply_due()
    assert trips == ["_take", "_take"]  # this pass's batch; its bookkeeping with the next
    assert recorder.applied == [("CallStarted", "a"), ("CallEnded", "a")]
    assert journal.backlog == 0


async def test_an_event_before_its_call_waits_and_the_calls_later_events_wait_behind_it(
    journal: Journal,
) -> None:
    """The AMI learner hears the queue ring before the application recorded the call (or the
    FastAGI process's journal is behind): the end waits, other calls go on."""
    recorder = FakeRecorder()
    applier = JournalApplier(journal, recorder)
    await journal.append(LegRang("late", "l", "agent1", AT), ended("late"), ended("other"))
    recorder.calls.add("other")
    await applier.apply_due()
    assert recorder.applied == [("LegRang", "late"), ("CallEnded", "other")]
    assert [entry.call_id for entry in await journal.due()] == []  # put off, not due yet
    await journal.append(started("late"))
    recorder.calls.add("late")
    await _until_applied(applier, journal)
    kinds = [kind for kind, call in recorder.applied if call == "late"]
    assert kinds[-3:] == ["CallStarted", "LegRang", "CallEnded"]


async def test_an_event_whose_call_never_starts_is_set_aside_not_lost(journal: Journal) -> None:
    recorder = FakeRecorder()
    applier = JournalApplier(journal, recorder, orphan_seconds=0.0)
    await journal.append(ended("never"))
    with structlog.testing.capture_logs() as logs:
        await applier.apply_due()  # first miss: starts the clock
        await _until(lambda: applier.orphaned == 1, applier)
    assert journal.backlog == 0
    assert await journal.set_aside_count() == 1
    assert applier.set_aside == 0  # not an alarm: usually a call that was never ours
    assert any(entry["event"] == "journal_event_orphaned" for entry in logs)
    assert await journal.requeue_set_aside() == 1  # an operator puts it back
    assert [entry.event for entry in await journal.due()] == [ended("never")]


async def test_a_calls_start_decision_and_route_appended_together_are_one_write(
    journal: Journal,
) -> None:
    """One statement instead of three for a queue call (two for a sticky one); a start heard
    alone (the queue_log) and events of one call split by another's are applied one by one."""
    recorder = FakeRecorder()
    applier = JournalApplier(journal, recorder)
    queue = (started("q"), DecisionMade("q", "queue", "no_history"), CallRouted("q", "queue"))
    await journal.append(*queue)
    await journal.append(started("s"), DecisionMade("s", "sticky", "last_agent"))
    await journal.append(started("alone"))
    await journal.append(started("x"))
    await journal.append(started("y"), DecisionMade("x", "queue", "no_history"))
    await journal.append(LegRang("q", "l", "agent1", AT), ended("q"))
    assert await applier.apply_due()
    assert recorder.openings == ["q", "s"]
    assert recorder.applied == [
        ("CallStarted", "q"), ("DecisionMade", "q"), ("CallRouted", "q"),
        ("CallStarted", "s"), ("DecisionMade", "s"),
        ("CallStarted", "alone"), ("CallStarted", "x"), ("CallStarted", "y"),
        ("DecisionMade", "x"), ("LegRang", "q"), ("CallEnded", "q"),
    ]  # fmt: skip
    assert journal.backlog == 0


async def test_an_opening_that_fails_is_applied_event_by_event(journal: Journal) -> None:
    recorder = FakeRecorder(fail=ValueError("bad value"), fail_times=1, failing_call="q")
    applier = JournalApplier(journal, recorder)
    await journal.append(
        started("q"), DecisionMade("q", "queue", "no_history"), CallRouted("q", "queue")
    )
    with structlog.testing.capture_logs() as logs:
        assert await applier.apply_due()
    assert [entry["event"] for entry in logs] == ["journal_opening_failed"]
    assert recorder.openings == []
    assert recorder.applied == [("CallStarted", "q"), ("DecisionMade", "q"), ("CallRouted", "q")]
    assert journal.backlog == 0


async def test_an_opening_while_the_database_is_away_stays_whole(journal: Journal) -> None:
    recorder = FakeRecorder(fail=OSError("refused"), fail_times=1)
    applier = JournalApplier(journal, recorder)
    await journal.append(started("q"), DecisionMade("q", "queue", "no_history"))
    with pytest.raises(OSError, match="refused"):
        await applier.apply_due()
    assert journal.backlog == 2
    assert await applier.apply_due()
    assert recorder.openings == ["q"]
    assert journal.backlog == 0


@pytest.mark.parametrize("outage", [OSError("refused"), TimeoutError()], ids=["refused", "timeout"])
async def test_a_database_away_keeps_every_event_until_it_answers(
    journal: Journal, outage: BaseException
) -> None:
    recorder = FakeRecorder(fail=outage, fail_times=3)
    applier = JournalApplier(journal, recorder)
    await journal.append(started("a"), ended("a"))
    with structlog.testing.capture_logs() as logs:
        applier.start()
        try:
            await _until(lambda: journal.backlog == 0, applier, seconds=10)
        finally:
            await applier.stop()
    assert recorder.applied == [("CallStarted", "a"), ("CallEnded", "a")]
    events = [entry["event"] for entry in logs]
    assert events.count("journal_waiting_for_database") == 1  # once per outage, not per try
    assert events.count("journal_database_back") == 1


async def test_an_event_that_keeps_failing_is_set_aside_and_others_go_on(
    journal: Journal,
) -> None:
    recorder = FakeRecorder(
        calls={"a", "b"}, fail=ValueError("bad value"), fail_times=5, failing_call="a"
    )
    applier = JournalApplier(journal, recorder)
    await journal.append(ended("a"), ended("b"))
    applier.start()
    try:
        await _until(lambda: ("CallEnded", "b") in recorder.applied, applier, seconds=20)
        await _until(lambda: applier.set_aside == 1, applier, seconds=20)
    finally:
        await applier.stop()
    assert ("CallEnded", "a") not in recorder.applied
    assert await journal.set_aside_count() == 1


async def test_a_running_applier_lets_the_appender_finish_its_turn_then_takes_a_burst_at_once(
    journal: Journal,
) -> None:
    """Woken by an append, the applier waits `gather_seconds` before its pass: the adapter that
    appended is usually still talking to Asterisk in the same event loop, and whatever else is
    appended meanwhile goes in the same pass."""
    recorder = FakeRecorder()
    applier = JournalApplier(journal, recorder, gather_seconds=0.3)
    applier.start()
    try:
        await asyncio.sleep(0.05)  # idle, waiting for an append
        await journal.append(started("a"))
        await asyncio.sleep(0.1)
        assert recorder.applied == []  # still gathering
        await journal.append(ended("a"))
        await _until(lambda: journal.backlog == 0, applier, seconds=5)
    finally:
        await applier.stop()
    assert recorder.applied == [("CallStarted", "a"), ("CallEnded", "a")]
    assert recorder.passes == 1  # one pass for both: the second came while it gathered


async def test_an_agents_ring_is_applied_without_gathering(journal: Journal) -> None:
    """The agent's screen pop follows the ring's application: no waiting for a burst then."""
    recorder = FakeRecorder(calls={"a"})
    applier = JournalApplier(journal, recorder, gather_seconds=5.0)
    applier.start()
    try:
        await asyncio.sleep(0.05)  # idle, waiting for an append
        await journal.append(LegRang("a", "l", "agent1", AT))
        await _until(lambda: journal.backlog == 0, applier, seconds=1)
    finally:
        await applier.stop()
    assert recorder.applied == [("LegRang", "a")]


async def test_an_unreadable_entry_is_set_aside(journal: Journal) -> None:
    recorder = FakeRecorder(calls={"a"})
    applier = JournalApplier(journal, recorder)
    await journal.append(ended("a"))
    await asyncio.to_thread(
        journal._db.execute, 'UPDATE events SET body = \'{"kind": "FromTheFuture"}\''
    )
    await applier.apply_due()
    assert applier.set_aside == 1
    assert recorder.applied == []


async def _until(
    condition: Callable[[], bool], applier: JournalApplier, seconds: float = 5
) -> None:
    """Until `condition` holds, driving the applier by hand unless it runs on its own."""
    async with asyncio.timeout(seconds):
        while not condition():
            if not applier.running:
                await applier.apply_due()
            await asyncio.sleep(0.05)


async def _until_applied(applier: JournalApplier, journal: Journal) -> None:
    await _until(lambda: journal.backlog == 0, applier, seconds=10)


# --- the cost of a pass -------------------------------------------------------------------------


@pytest.mark.parametrize("statement", [DUE, OLDEST, NEXT_RETRY], ids=["due", "oldest", "retry"])
async def test_a_pass_never_reads_the_whole_journal(journal: Journal, statement: str) -> None:
    """Events waiting for a call that never comes (an agent's own outbound calls, heard on
    AMI) stay for ORPHAN_SECONDS; a pass that scanned them cost 7 ms at 20,000 of them."""
    bindings = (0.0, 200) if "?" in statement else ()
    plan = await asyncio.to_thread(
        lambda: journal._db.execute(f"EXPLAIN QUERY PLAN {statement}", bindings).fetchall()
    )
    steps = [str(step[3]) for step in plan]
    # A SCAN through an index is events_unwaited's: it holds no waiting event, and the first
    # row it has is the answer.
    table_scans = [step for step in steps if step.startswith("SCAN") and "INDEX" not in step]
    assert [step for step in table_scans if "subquery" not in step] == [], steps
    assert any("INDEX" in step for step in steps), steps


async def test_many_waiting_events_leave_the_due_ones_found_in_order(journal: Journal) -> None:
    recorder = FakeRecorder()
    applier = JournalApplier(journal, recorder)
    await journal.append(*(ended(f"not-ours-{n}") for n in range(300)))
    await applier.apply_due()  # each waits for a start that never comes (200 a pass)
    await applier.apply_due()
    assert len(recorder.applied) == 300
    waiting = await journal.take()
    assert waiting.entries == []
    assert waiting.oldest_age == 0.0  # waiting events do not age the journal
    assert waiting.next_retry is not None
    await journal.append(started("ours"), ended("ours"))
    recorder.calls.add("ours")
    batch = await journal.take()
    assert [(entry.call_id, type(entry.event).__name__) for entry in batch.entries] == [
        ("ours", "CallStarted"),
        ("ours", "CallEnded"),
    ]
    assert batch.oldest_age >= 0.0
