"""Background work for an external ticket source: keep the mirror fresh, tell it finished calls.

Nothing here is on a call's path. The mirror is refreshed incrementally (tickets updated since
the newest update seen, a few seconds of overlap so a ticket updated in the same second as the
last one is not missed; the upsert is idempotent) and fully now and then, which drops the tickets
the source no longer lists (deleted, or closed while we were away). A source that is down, slow
or answers garbage is logged, counted and kept in `ticket_source_state`; the mirror keeps its
last good state and calls go on being routed from it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg
import structlog

from sticky_router.routing_core.store import call_reports
from sticky_router.routing_core.store.ticket_mirror import (
    SourceState,
    apply_changes,
    record_failure,
    source_state,
)
from sticky_router.routing_core.tickets import (
    SourceFailure,
    TicketObserver,
    TicketSource,
    TicketSourceError,
)

log = structlog.get_logger("sticky_router.tickets")

# Seconds of "updated since" overlap between two incremental syncs (source clocks round).
OVERLAP = timedelta(seconds=5)


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class SyncTiming:
    timeout_seconds: float = 10.0  # the most one sync waits for the source
    full_every: timedelta = timedelta(hours=1)
    # Every process that routes keeps the mirror (the router, a FastAGI process, a second
    # router): one that finds it synced, or tried, this recently by another leaves the source
    # alone. Two that look at the same instant both ask, which is harmless.
    min_gap: timedelta = timedelta(0)


@dataclass(frozen=True, slots=True)
class ReportTiming:
    timeout_seconds: float = 5.0  # the most one report waits for the source
    settle: timedelta = timedelta(seconds=60)  # after the call's end: the note of wrap-up
    hold: timedelta = timedelta(minutes=2)  # a claimed report is this process's for so long
    batch: int = 50
    # A source that is away (unavailable, timeout) gets the report later, less and less often
    # (30 s, 1 min, 2 min, ... an hour at most), until it is back or the report is this old:
    # a night's maintenance loses nothing.
    retry_first: timedelta = timedelta(seconds=30)
    retry_longest: timedelta = timedelta(hours=1)
    give_up_after: timedelta = timedelta(days=3)
    # A source that answers but refuses or does not understand the report: our request is what
    # is wrong, and asking again for days would not mend it.
    max_refusals: int = 20

    def retry_at(
        self, failure: SourceFailure, attempts: int, queued_at: datetime, now: datetime
    ) -> datetime | None:
        """When to try a failed report again; None: give it up."""
        away = failure in (SourceFailure.UNAVAILABLE, SourceFailure.TIMEOUT)
        if (now - queued_at >= self.give_up_after) if away else attempts >= self.max_refusals:
            return None
        doubled = self.retry_first * (1 << min(max(attempts - 1, 0), 20))
        return now + min(doubled, self.retry_longest)


def _failure_of(error: BaseException) -> tuple[SourceFailure, str]:
    if isinstance(error, TicketSourceError):
        return error.failure, error.detail
    if isinstance(error, TimeoutError):
        return SourceFailure.TIMEOUT, "no answer in time"
    # An adapter bug or an answer it did not expect: treated as garbage, never as a crash.
    return SourceFailure.INVALID, type(error).__name__


class _SourceWork:
    """What the mirror's sync and the call reporter share: the source, the mirror's database,
    the clock, and how a failure is told (one log line, the observer's count)."""

    def __init__(
        self,
        source: TicketSource,
        pool: asyncpg.Pool,
        observer: TicketObserver | None,
        clock: Callable[[], datetime],
    ) -> None:
        self._source = source
        self._pool = pool
        self._observer = observer
        self._clock = clock

    def failed(self, operation: str, failure: SourceFailure, detail: str) -> None:
        log.warning(
            "ticket_source_failed",
            source=self._source.name,
            operation=operation,
            failure=failure.value,
            detail=detail,
        )
        self._notify(lambda o: o.ticket_source_failed(self._source.name, operation, failure))

    def _notify(self, tell: Callable[[TicketObserver], None]) -> None:
        if self._observer is None:
            return
        try:
            tell(self._observer)
        except Exception as error:  # counting must never stop the work
            log.warning("observer_failed", error=type(error).__name__)


class TicketMirrorSync(_SourceWork):
    def __init__(
        self,
        source: TicketSource,
        pool: asyncpg.Pool,
        *,
        timing: SyncTiming = SyncTiming(),
        observer: TicketObserver | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        super().__init__(source, pool, observer, clock)
        self._timing = timing

    async def sync_once(self, *, full: bool | None = None) -> bool:
        """One sync: full when asked, when there never was one or the last is too old;
        incremental otherwise. False when the source failed (the mirror is left as it was)."""
        name = self._source.name
        state = await source_state(self._pool, name)
        now = self._clock()
        if full is None and self._recently_tried(state, now):
            synced_at = state.last_sync_at if state else None
            if synced_at is not None:  # this process's freshness gauge follows the shared mirror
                self._notify(lambda o: o.ticket_mirror_fresh(name, synced_at))
            return True
        if full is None:
            last_full = state.last_full_sync_at if state else None
            full = last_full is None or now - last_full >= self._timing.full_every
        newest = state.newest_update if state else None
        since = None if full or newest is None else newest - OVERLAP
        full = since is None
        try:
            async with asyncio.timeout(self._timing.timeout_seconds):
                changes = await self._source.changes_since(since)
        except Exception as error:
            failure, detail = _failure_of(error)
            self.failed("sync", failure, detail)
            await record_failure(self._pool, name, f"{failure.value}: {detail}", now)
            return False
        kept = await apply_changes(self._pool, name, changes, full=full, synced_at=now)
        # A quiet incremental sync every interval is no news: debug, not info.
        report = log.info if full or changes else log.debug
        report("ticket_mirror_synced", source=name, full=full, changes=len(changes), open=kept)
        self._notify(lambda o: o.ticket_mirror_synced(name, full, len(changes)))
        return True

    def _recently_tried(self, state: SourceState | None, now: datetime) -> bool:
        if state is None or not self._timing.min_gap:
            return False
        tried = [t for t in (state.last_sync_at, state.last_error_at) if t is not None]
        return bool(tried) and now - max(tried) < self._timing.min_gap


class CallReporter(_SourceWork):
    def __init__(
        self,
        source: TicketSource,
        pool: asyncpg.Pool,
        *,
        timing: ReportTiming = ReportTiming(),
        observer: TicketObserver | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        super().__init__(source, pool, observer, clock)
        self._timing = timing
        self._since: datetime | None = None

    async def report_once(self) -> int:
        """Queue the calls that ended since the last round and send what is pending; returns how
        many were sent. Each call id is sent once, however often its end was reported."""
        name, timing, now = self._source.name, self._timing, self._clock()
        if self._since is None:
            self._since = await call_reports.start_reporting(self._pool, name, now)
        settled = now - timing.settle
        await call_reports.queue_ended_calls(self._pool, name, self._since, settled, now)
        claimed = await call_reports.claim_reports(self._pool, name, now, timing.hold, timing.batch)
        sent = 0
        for item in claimed:
            try:
                async with asyncio.timeout(timing.timeout_seconds):
                    await self._source.record_call(item.report)
            except Exception as error:
                failure, detail = _failure_of(error)
                self.failed("record_call", failure, detail)
                await call_reports.mark_failed(
                    self._pool, item.report.call_id, f"{failure.value}: {detail}",
                    retry_at=timing.retry_at(failure, item.attempts, item.queued_at, now),
                )  # fmt: skip
                self._notify(lambda o: o.ticket_call_reported(name, "failed"))
                continue
            await call_reports.mark_sent(self._pool, item.report.call_id, self._clock())
            self._notify(lambda o: o.ticket_call_reported(name, "sent"))
            sent += 1
        return sent


class Every:
    """Runs a step every `interval` seconds until stopped; a failing step (the database away)
    is logged and tried again next time."""

    def __init__(self, name: str, step: Callable[[], Awaitable[object]], interval: float) -> None:
        self._name = name
        self._step = step
        self._interval = interval
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            try:
                await self._step()
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
                log.warning(f"{self._name}_failed", error=type(error).__name__)
            except Exception:
                log.exception(f"{self._name}_failed")
            await asyncio.sleep(self._interval)
