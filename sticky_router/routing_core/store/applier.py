"""Apply the journal to PostgreSQL: in order per call, until PostgreSQL has every event.

One task takes the due events oldest first and applies each with its recorder call (all of them
idempotent, so an event applied again after a crash changes nothing; a call's start, decision
and route appended together go in one statement). What can go wrong, and what happens:

- PostgreSQL does not answer (stopped, restarting, failing over, a lock, a cut network): the
  event stays, the applier waits (0.2 s doubling to 5 s) and tries again, for as long as it
  takes. Stale pooled connections after a restart fail once and are retried like any other.
- The event's call is not known yet: its start comes from another reporter (the FastAGI
  process's journal, or the application's, which writes after the queue already rang). The
  event waits for it, and every later event of that call waits behind it; after
  `orphan_seconds` without the start it is set aside, with a warning.
- The event fails for any other reason (a bug, a constraint): tried a few more times, then set
  aside with the error in the log, never dropped and never blocking other calls.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass
from typing import Protocol

import asyncpg
import structlog

from sticky_router.routing_core.events import (
    CallRouted,
    CallStarted,
    DecisionMade,
    LegRang,
    Recorder,
)
from sticky_router.routing_core.ringing import RingingListener, RingSource
from sticky_router.routing_core.store.journal import Batch, Entry, Journal

log = structlog.get_logger("sticky_router.journal")

WRITE_TIMEOUT = 10.0  # one statement; longer means PostgreSQL is not answering
UNAVAILABLE_BACKOFF = (0.2, 0.5, 1.0, 2.0, 5.0)
WAIT_FOR_CALL = (0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0)
ORPHAN_SECONDS = 600.0
FAILURE_ATTEMPTS = 5
ORPHANED = "orphaned: its call never started here"
IDLE_POLL = 1.0
# Woken by an append, the applier lets this pass before it takes the batch: the adapter that
# appended is usually still in its turn with Asterisk (a FastAGI lookup setting its variables,
# the ARI application handing the caller on), and the applier's Python would run in the middle
# of it, in the same event loop (measured: half a millisecond of CPU per call opened). Waiting
# also gathers a burst into one pass. The event is already on disk; PostgreSQL has it 20 ms later.
# Not an agent's ring: the screen pop waits for that one to be applied (Journal.rang).
GATHER_SECONDS = 0.02

# The database is away or busy, not the event wrong: wait and try again, without limit.
UNAVAILABLE: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    asyncpg.InterfaceError,
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.OperatorInterventionError,  # admin shutdown, crash shutdown
    asyncpg.exceptions.TooManyConnectionsError,
    asyncpg.exceptions.QueryCanceledError,  # statement_timeout, lock_timeout
    asyncpg.exceptions.LockNotAvailableError,
    asyncpg.exceptions.DeadlockDetectedError,
    asyncpg.exceptions.SerializationError,
    asyncpg.exceptions.ReadOnlySQLTransactionError,  # a standby during failover
)


class KnowsCalls(Recorder, Protocol):
    async def known(self, call_id: str) -> bool: ...

    async def call_opened(
        self, started: CallStarted, made: DecisionMade, routed: CallRouted | None
    ) -> None:
        """Start, decision and route in one write (CallRecorder.call_opened)."""
        ...

    def session(
        self, checkout_seconds: float
    ) -> contextlib.AbstractAsyncContextManager[KnowsCalls]:
        """The recorder on one connection for a pass (CallRecorder.session)."""
        ...


class JournalApplier:
    def __init__(
        self,
        journal: Journal,
        recorder: KnowsCalls,
        *,
        orphan_seconds: float = ORPHAN_SECONDS,
        batch: int = 200,
        gather_seconds: float = GATHER_SECONDS,
        ringing: RingingListener | None = None,
    ) -> None:
        self.journal = journal
        self._recorder = recorder
        self._orphan_seconds = orphan_seconds
        self._batch = batch
        self._gather_seconds = gather_seconds
        self._ringing = ringing
        self._task: asyncio.Task[None] | None = None
        self._unavailable_since: float | None = None
        self.applied = 0
        self.set_aside = 0  # failing or unreadable: each one worth a look
        self.orphaned = 0  # for a call that never started here
        self.oldest_age = 0.0  # seconds; refreshed on every pass, for the metrics

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self.run())

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def stop(self) -> None:
        """Stop between two events (what was not applied stays in the journal)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def drain(self, seconds: float) -> bool:
        """Wait until nothing due is left (or `seconds` passed): whether the journal is empty
        of events that could be applied now. For shutdown and tests."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if not self.journal.queued and not await self.journal.due(1):
                return True
            await asyncio.sleep(0.02)
        return False

    async def run(self) -> None:
        failures = 0
        batch: Batch | None = None  # taken at the end of the previous pass, in the same trip
        while True:
            try:
                if batch is None:
                    self._cleared()  # before the read: no append goes unseen
                    batch = await self.journal.take(self._batch)
                self.oldest_age = batch.oldest_age
                entries, next_retry = batch.entries, batch.next_retry
                batch = await self._apply_entries(entries) if entries else None
            except UNAVAILABLE as error:
                batch = None
                await self._unavailable(error, failures)
                failures += 1
                continue
            if self._unavailable_since is not None:
                log.info(
                    "journal_database_back",
                    after_seconds=round(time.time() - self._unavailable_since, 1),
                    backlog=self.journal.backlog,
                )
                self._unavailable_since = None
            failures = 0
            if not entries:
                await self._idle(next_retry)

    async def apply_due(self) -> bool:
        """One pass over the due events; whether there were any. Raises UNAVAILABLE errors
        (after recording what was applied before)."""
        batch = await self.journal.take(self._batch)
        self.oldest_age = batch.oldest_age
        if batch.entries:
            await self._apply_entries(batch.entries)
        return bool(batch.entries)

    async def _apply_entries(self, entries: list[Entry]) -> Batch:
        """Apply `entries` in order; what was applied leaves the journal in the same trip that
        takes the next batch, which is returned."""
        done: list[int] = []
        started: list[str] = []  # calls whose start was applied: what waited for them is due
        # Before the trip that reads the next batch: an append after it is seen by _idle.
        self._cleared()
        try:
            async with self._recorder.session(WRITE_TIMEOUT) as recorder:
                await self._apply_in_order(entries, recorder, done, started)
        finally:
            # Also when PostgreSQL failed half way: what was applied is not applied again.
            self.applied += len(done)
            following = await self.journal.take(self._batch, applied=done, started=started)
        return following

    async def _apply_in_order(
        self, entries: list[Entry], recorder: KnowsCalls, done: list[int], started: list[str]
    ) -> None:
        held: set[str] = set()  # calls whose earlier event in this pass was put off
        opened: set[int] = set()  # seqs applied together by call_opened
        for index, entry in enumerate(entries):
            if entry.seq in opened:
                continue
            opening = _opening(entries, index)
            if opening is not None and await self._apply_opening(opening, recorder):
                done.extend(part.seq for part in opening.entries)
                opened.update(part.seq for part in opening.entries)
                started.append(entry.call_id)
                continue
            starts = isinstance(entry.event, CallStarted)
            if entry.call_id in held and not starts:
                continue
            if await self._apply(entry, recorder):
                done.append(entry.seq)
                self._tell_ringing(entry)
                if starts:
                    # What waited for this call is due from the next pass on. While one of
                    # its events waits, none of its later ones is in this pass (take() leaves
                    # out every event behind one that waits): the order holds as it is.
                    started.append(entry.call_id)
            else:
                held.add(entry.call_id)

    async def _apply_opening(self, opening: Opening, recorder: KnowsCalls) -> bool:
        """A call's start, decision and route in one statement. Failing for any reason but an
        unavailable database, its events are applied one by one instead, each with its own
        retries and its own place aside."""
        try:
            async with asyncio.timeout(WRITE_TIMEOUT):
                await recorder.call_opened(opening.started, opening.made, opening.routed)
        except UNAVAILABLE:
            raise
        except Exception as error:
            log.warning("journal_opening_failed", **_about(opening.entries[0]), error=repr(error))
            return False
        return True

    async def _apply(self, entry: Entry, recorder: KnowsCalls) -> bool:
        """True when the event is applied; False when it was put off or set aside."""
        if entry.event is None:
            await self._set_aside(entry, "unreadable: not an event this version knows")
            return False
        try:
            async with asyncio.timeout(WRITE_TIMEOUT):
                applied = await entry.event.apply(recorder)
                if applied or await recorder.known(entry.call_id):
                    return True
        except UNAVAILABLE:
            raise
        except Exception as error:
            if entry.attempts + 1 >= FAILURE_ATTEMPTS:
                await self._set_aside(entry, f"failed {FAILURE_ATTEMPTS} times: {error!r}")
            else:
                log.warning("journal_apply_failed", **_about(entry), error=repr(error))
                await self.journal.put_off(entry, time.time() + _step(UNAVAILABLE_BACKOFF, entry))
            return False
        return await self._wait_for_call(entry)

    def _tell_ringing(self, entry: Entry) -> None:
        """A ring in the history now: the pop can be made (and read who transferred it)."""
        ring = entry.event
        if self._ringing is None or not isinstance(ring, LegRang):
            return
        source = RingSource.TRANSFER if ring.transferred_from else RingSource.QUEUE
        try:
            self._ringing.agent_ringing(ring.call_id, ring.agent, source)
        except Exception:  # a pop is never worth an event
            log.exception("ringing_report_failed", call_id=ring.call_id)

    async def _wait_for_call(self, entry: Entry) -> bool:
        now = time.time()
        since = entry.waiting_since or now
        if now - since >= self._orphan_seconds:
            # Usually not a support call at all (an agent's own outbound or internal call, which
            # AMI reports like any other): kept aside, counted apart, no alarm.
            log.info("journal_event_orphaned", **_about(entry))
            await self.journal.set_aside(entry, ORPHANED)
            self.orphaned += 1  # counted once it is aside on disk: the metric never runs ahead
            return False
        await self.journal.put_off(entry, now + _step(WAIT_FOR_CALL, entry), since)
        return False

    async def _set_aside(self, entry: Entry, why: str) -> None:
        log.error("journal_event_set_aside", **_about(entry), why=why)
        await self.journal.set_aside(entry, why)
        self.set_aside += 1  # counted once it is aside on disk: the metric never runs ahead

    async def _unavailable(self, error: BaseException, failures: int) -> None:
        if self._unavailable_since is None:
            self._unavailable_since = time.time()
            log.warning(
                "journal_waiting_for_database",
                error=type(error).__name__,
                backlog=self.journal.backlog,
                why="events stay in the journal and are applied when PostgreSQL answers",
            )
        await asyncio.sleep(UNAVAILABLE_BACKOFF[min(failures, len(UNAVAILABLE_BACKOFF) - 1)])

    def _cleared(self) -> None:
        """Before a read of the journal: an append after it wakes `_idle`."""
        self.journal.appended.clear()
        self.journal.rang.clear()

    async def _idle(self, retry: float | None) -> None:
        """Until something is appended, or the earliest put-off event is due (`retry`)."""
        wait = IDLE_POLL
        if retry is not None:
            wait = min(max(retry - time.time(), 0.01), IDLE_POLL)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.journal.appended.wait(), wait)
            # GATHER_SECONDS, cut short by an agent's ring
            await asyncio.wait_for(self.journal.rang.wait(), self._gather_seconds)


@dataclass(frozen=True)
class Opening:
    """A call's start with its decision and, for a queue or blocked call, its route, journalled
    in one append (so consecutive): what call_opened writes at once."""

    entries: tuple[Entry, ...]
    started: CallStarted
    made: DecisionMade
    routed: CallRouted | None


def _opening(entries: list[Entry], index: int) -> Opening | None:
    """The opening that starts at `index`, if one does."""
    first, following = entries[index], entries[index + 1 : index + 3]
    if not isinstance(first.event, CallStarted) or not following:
        return None

    def right_behind(entry: Entry, before: Entry) -> bool:
        return entry.call_id == first.call_id and entry.seq == before.seq + 1

    decided = following[0]
    if not (isinstance(decided.event, DecisionMade) and right_behind(decided, first)):
        return None
    if len(following) == 2:
        routed = following[1]
        if isinstance(routed.event, CallRouted) and right_behind(routed, decided):
            return Opening((first, decided, routed), first.event, decided.event, routed.event)
    return Opening((first, decided), first.event, decided.event, None)


def _step(steps: tuple[float, ...], entry: Entry) -> float:
    return steps[min(entry.attempts, len(steps) - 1)]


def _about(entry: Entry) -> dict[str, object]:
    kind = type(entry.event).__name__ if entry.event is not None else "unreadable"
    return {"seq": entry.seq, "kind": kind, "call_id": entry.call_id}
