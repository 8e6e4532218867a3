"""The call journal: every event the router learns is on local disk before anything else.

PostgreSQL is where the history lives, but it may be slow, restarting or failing over while
calls go on. So an adapter's report (a `routing_core.events` event) is first appended here and
fsynced; `JournalApplier` applies it to PostgreSQL when PostgreSQL answers, and only then is it
removed. A router killed or restarted keeps what it had learned: the next start applies it.

Why SQLite (the standard library's, in WAL mode): an append's commit is durable when it returns
(synchronous=FULL: fsynced), a crash mid-write loses nothing already committed, the file is one
ordinary file an operator can inspect with `sqlite3`, and no new dependency or server is needed.
Appends are group-committed by one writer thread: all the events reported while the previous
commit was on its way go to disk together, so a burst costs one fsync, not one per event, and
the event loop never waits on the disk.

The bookkeeping (removing applied events, putting one off, waking the events that waited for
their call, the queue_log follower's place) is committed without an fsync (synchronous=NORMAL):
a process crash keeps it all the same, and the next append's fsync carries it to disk with the
append. What a power cut could take back is only bookkeeping: an applied event applied again
(every apply is idempotent), a put-off event tried sooner, a queue_log line read again. And
the applier's whole pass (remove what it applied, wake, read what is due, the oldest age, the
next retry) is one trip to the writer thread, not five.

The journal is bounded (`max_events`): when full it refuses new events with an error in the log
and a counter, never silently; it warns well before that (`alarm_ratio`).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TypeVar

import structlog

from sticky_router.routing_core.events import (
    CallEvent,
    CallStarted,
    LegRang,
    UnreadableEvent,
    decode,
    encode,
)

log = structlog.get_logger("sticky_router.journal")

DEFAULT_MAX_EVENTS = 1_000_000  # days of a busy line's events, a few hundred MB on disk
ALARM_RATIO = 0.8

T = TypeVar("T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    call_id TEXT NOT NULL,
    body TEXT NOT NULL,
    appended_at REAL NOT NULL,
    starts_call INTEGER NOT NULL DEFAULT 0,
    attempts INTEGER NOT NULL DEFAULT 0,
    retry_at REAL NOT NULL DEFAULT 0,
    waiting_since REAL
);
CREATE INDEX IF NOT EXISTS events_by_call ON events (call_id, seq);
-- Each pass reads what is due, the oldest age and the next retry. Most events waiting for their
-- call never get one (an agent's own outbound call, heard on AMI, waits ORPHAN_SECONDS), and
-- without these every pass read all of them: 20,000 waiting cost 7 ms a pass, now 0.02 ms.
CREATE INDEX IF NOT EXISTS events_due ON events (retry_at, seq);
CREATE INDEX IF NOT EXISTS events_unwaited ON events (seq) WHERE waiting_since IS NULL;
CREATE TABLE IF NOT EXISTS set_aside (
    seq INTEGER PRIMARY KEY,
    call_id TEXT NOT NULL,
    body TEXT NOT NULL,
    appended_at REAL NOT NULL,
    starts_call INTEGER NOT NULL,
    set_aside_at REAL NOT NULL,
    why TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS marks (name TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


# What each pass reads (?1 now, ?2 how many). Due events of one kind (`when`), oldest first,
# skipping every one behind an earlier event of its call that waits (a call's start excepted:
# it is what the others wait for).
_DUE_OF = """
    SELECT seq, call_id, body, appended_at, attempts, waiting_since FROM events e
    WHERE {when} AND (starts_call OR NOT EXISTS (
        SELECT 1 FROM events w
        WHERE w.call_id = e.call_id AND w.seq < e.seq AND w.retry_at > ?1))
    ORDER BY seq LIMIT ?2
"""
# Never tried (retry_at 0), and put off until now: each found through events_due in seq order,
# so the events put off for later are never read.
DUE = f"""
    SELECT * FROM ({_DUE_OF.format(when="retry_at = 0")})
    UNION ALL
    SELECT * FROM ({_DUE_OF.format(when="retry_at > 0 AND retry_at <= ?1")})
    ORDER BY seq LIMIT ?2
"""
# The first by seq is the oldest (events are numbered as they are appended). Events waiting for
# their call to start are left out: most are for calls that are not ours (an agent's own
# outbound call) and would keep the age high for minutes.
OLDEST = "SELECT appended_at FROM events WHERE waiting_since IS NULL ORDER BY seq LIMIT 1"
NEXT_RETRY = "SELECT min(retry_at) FROM events WHERE retry_at > 0"


@dataclass(frozen=True, slots=True)
class Entry:
    """One journalled event waiting to be applied. `event` is None when the entry cannot be
    read back (written by a newer version, or damaged): it is set aside, not applied."""

    seq: int
    call_id: str
    event: CallEvent | None
    body: str
    appended_at: float
    attempts: int
    waiting_since: float | None


@dataclass(frozen=True, slots=True)
class Batch:
    """One applier pass's worth: the due entries, the oldest unapplied event's age (seconds)
    and, when nothing is due, when the earliest put-off event will be (epoch seconds)."""

    entries: list[Entry]
    oldest_age: float
    next_retry: float | None


class Journal:
    """Open with `Journal.open(path)`; `append` from the event loop, `close` when done."""

    def __init__(
        self,
        connection: sqlite3.Connection,
        path: Path,
        *,
        max_events: int = DEFAULT_MAX_EVENTS,
    ) -> None:
        self.path = path
        self.max_events = max_events
        self._db = connection
        # One thread owns the file: commits happen one after the other, in append order.
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="journal")
        self._queued: list[tuple[CallEvent, asyncio.Future[bool]]] = []
        self._flushing: asyncio.Task[None] | None = None
        self.appended = asyncio.Event()  # set after each commit; the applier clears it
        # Set after a commit with an agent's ring in it: an agent's screen waits for that one
        # (the pop follows its application), so the applier takes it without gathering.
        self.rang = asyncio.Event()
        self.backlog = int(connection.execute("SELECT count(*) FROM events").fetchone()[0])
        self.refused = 0
        self._alarmed = False
        self._lock: IO[bytes] | None = None
        self._synchronous = "FULL"  # as open() leaves the connection

    @classmethod
    def open(cls, path: Path | str, *, max_events: int = DEFAULT_MAX_EVENTS) -> Journal:
        """Open (or create) the journal at `path`; JournalBusy if another process has it."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        lock = _lock(path)
        connection = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=FULL")  # durable when the commit returns
        connection.executescript(_SCHEMA)
        journal = cls(connection, path, max_events=max_events)
        journal._lock = lock
        if journal.backlog:
            log.info("journal_backlog_found", events=journal.backlog, path=str(path))
        return journal

    # -- appending --------------------------------------------------------------------------

    async def append(self, *events: CallEvent) -> bool:
        """Whether the events are on disk. Never raises: a full or broken journal is an error
        in the log (and a refused count), and the caller's call goes on."""
        if not events:
            return True
        loop = asyncio.get_running_loop()
        waiting = [loop.create_future() for _ in events]
        self._queued.extend(zip(events, waiting, strict=True))
        if self._flushing is None or self._flushing.done():
            self._flushing = loop.create_task(self._flush())
        results = await asyncio.gather(*waiting)
        return all(results)

    async def _flush(self) -> None:
        while self._queued:
            batch, self._queued = self._queued, []
            room = max(self.max_events - self.backlog, 0)
            kept, refused = batch[:room], batch[room:]
            for event, future in refused:
                self.refused += 1
                log.error(
                    "journal_full_event_refused",
                    kind=type(event).__name__,
                    call_id=event.call_id,
                    backlog=self.backlog,
                    max_events=self.max_events,
                )
                _settle(future, False)
            if not kept:
                continue
            now = time.time()
            rows = [(e.call_id, encode(e), now, isinstance(e, CallStarted)) for e, _ in kept]
            try:
                await asyncio.get_running_loop().run_in_executor(self._thread, self._insert, rows)
            except Exception as error:  # a full disk, a damaged file: loud, and the call goes on
                self.refused += len(kept)
                log.error("journal_append_failed", error=repr(error), events=len(kept))
                for _, future in kept:
                    _settle(future, False)
                continue
            self.backlog += len(kept)
            self._check_alarm()
            for _, future in kept:
                _settle(future, True)
            if any(isinstance(event, LegRang) for event, _ in kept):
                self.rang.set()
            self.appended.set()

    def _insert(self, rows: list[tuple[str, str, float, bool]]) -> None:
        with self._transaction():
            self._db.executemany(
                "INSERT INTO events (call_id, body, appended_at, starts_call) VALUES (?, ?, ?, ?)",
                rows,
            )

    def _check_alarm(self) -> None:
        high = self.backlog >= self.max_events * ALARM_RATIO
        if high and not self._alarmed:
            log.warning(
                "journal_nearly_full",
                backlog=self.backlog,
                max_events=self.max_events,
                why="PostgreSQL has not taken the journal's events for a while; at the limit "
                "new events are refused",
            )
        self._alarmed = high

    # -- for the applier ---------------------------------------------------------------------

    async def due(self, limit: int = 200) -> list[Entry]:
        """The next events to apply, oldest first, skipping every call whose earlier event is
        waiting (a call's events are applied in the order they were learned). A call's start
        never waits: it is what the others wait for."""
        return await self._run(self._due, time.time(), limit)

    async def take(
        self,
        limit: int = 200,
        *,
        applied: Sequence[int] = (),
        started: Sequence[str] = (),
    ) -> Batch:
        """The applier's pass in one trip to the writer thread: remove the `applied` events,
        make due the events that waited for a call of `started` (they go before the call's
        later events, by their order), then the next batch."""
        batch = await self._run(self._take, time.time(), limit, list(applied), list(started))
        if applied:
            self.backlog = max(self.backlog - len(applied), 0)
            self._check_alarm()
        return batch

    def _take(self, now: float, limit: int, applied: list[int], started: list[str]) -> Batch:
        if applied or started:
            with self._transaction(durable=False):
                self._db.executemany("DELETE FROM events WHERE seq = ?", [(s,) for s in applied])
                self._db.executemany(
                    "UPDATE events SET retry_at = 0 "
                    "WHERE call_id = ? AND waiting_since IS NOT NULL",
                    [(call_id,) for call_id in started],
                )
        entries = self._due(now, limit)
        oldest = self._db.execute(OLDEST).fetchone()
        retry = None
        if not entries:
            found = self._db.execute(NEXT_RETRY).fetchone()[0]
            retry = float(found) if found is not None else None
        age = max(now - float(oldest[0]), 0.0) if oldest is not None else 0.0
        return Batch(entries, age, retry)

    def _due(self, now: float, limit: int) -> list[Entry]:
        return [_entry(*row) for row in self._db.execute(DUE, (now, limit)).fetchall()]

    async def put_off(
        self, entry: Entry, retry_at: float, waiting_since: float | None = None
    ) -> None:
        """Try this event again at `retry_at`; `waiting_since` marks one waiting for its call."""
        await self._run(self._update, entry.seq, entry.attempts + 1, retry_at, waiting_since)

    def _update(self, seq: int, attempts: int, retry_at: float, since: float | None) -> None:
        with self._transaction(durable=False):
            self._db.execute(
                "UPDATE events SET attempts = ?, retry_at = ?, waiting_since = ? WHERE seq = ?",
                (attempts, retry_at, since, seq),
            )

    async def set_aside(self, entry: Entry, why: str) -> None:
        """Keep an event that cannot be applied out of the way, with why (never deleted: an
        operator can read it with `sqlite3`, fix the cause, and have it put back by
        `requeue_set_aside`, which no command offers yet)."""
        await self._run(self._set_aside, entry, why, time.time())
        self.backlog = max(self.backlog - 1, 0)

    def _set_aside(self, entry: Entry, why: str, now: float) -> None:
        starts = isinstance(entry.event, CallStarted)
        row = (entry.seq, entry.call_id, entry.body, entry.appended_at, starts, now, why)
        with self._transaction():
            self._db.execute("INSERT OR REPLACE INTO set_aside VALUES (?, ?, ?, ?, ?, ?, ?)", row)
            self._db.execute("DELETE FROM events WHERE seq = ?", (entry.seq,))

    async def requeue_set_aside(self) -> int:
        """Put every set-aside event back in the journal (after the cause was fixed)."""
        moved = await self._run(self._requeue)
        self.backlog += moved
        self.appended.set()
        return moved

    def _requeue(self) -> int:
        with self._transaction():
            moved = self._db.execute(
                "INSERT INTO events (seq, call_id, body, appended_at, starts_call) "
                'SELECT seq, call_id, body, appended_at, body LIKE \'{"kind":"CallStarted"%\' '
                "FROM set_aside"
            ).rowcount
            self._db.execute("DELETE FROM set_aside")
        return int(moved)

    # -- what an operator and the metrics see -------------------------------------------------

    async def set_aside_count(self) -> int:
        return int(
            await self._run(
                lambda: self._db.execute("SELECT count(*) FROM set_aside").fetchone()[0]
            )
        )

    async def mark(self, name: str) -> str | None:
        """A small named value kept with the journal (how far a reconciliation has read)."""
        row = await self._run(
            lambda: self._db.execute("SELECT value FROM marks WHERE name = ?", (name,)).fetchone()
        )
        return str(row[0]) if row else None

    async def set_mark(self, name: str, value: str) -> None:
        """Bookkeeping too: a mark is written after the events it stands for were appended, so
        one taken back by a power cut means reading a little again, never skipping."""

        def write() -> None:
            with self._transaction(durable=False):
                self._db.execute(
                    "INSERT INTO marks VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = ?2",
                    (name, value),
                )

        await self._run(write)

    # -- plumbing -----------------------------------------------------------------------------

    async def _run(self, work: Callable[..., T], *args: object) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._thread, work, *args)

    @contextlib.contextmanager
    def _transaction(self, *, durable: bool = True) -> Iterator[None]:
        """`durable=False`: committed without an fsync (bookkeeping only, see the module's
        docstring); the next durable commit takes it to disk."""
        synchronous = "FULL" if durable else "NORMAL"
        if synchronous != self._synchronous:
            self._db.execute(f"PRAGMA synchronous={synchronous}")
            self._synchronous = synchronous
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    async def close(self) -> None:
        """After the appends under way are on disk."""
        if self._flushing is not None:
            with contextlib.suppress(Exception):
                await self._flushing
        self._thread.submit(self._db.close).result()
        self._thread.shutdown(wait=True)
        if self._lock is not None:
            self._lock.close()  # and with it the lock
            self._lock = None

    @property
    def queued(self) -> int:
        """Events handed to `append` and not yet committed."""
        return len(self._queued)


class JournalBusy(RuntimeError):
    """Another process has this journal open: two appliers would race on one file."""


def _lock(path: Path) -> IO[bytes]:
    lock = (path.parent / (path.name + ".lock")).open("ab")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.close()
        raise JournalBusy(
            f"{path} is in use by another process; give each process its own journal"
        ) from None
    return lock


def _settle(future: asyncio.Future[bool], on_disk: bool) -> None:
    """The reporter may have stopped waiting (its task was cancelled): the event is kept all
    the same, only nobody hears about it."""
    if not future.done():
        future.set_result(on_disk)


def _entry(
    seq: int, call_id: str, body: str, appended_at: float, attempts: int, since: float | None
) -> Entry:
    try:
        event: CallEvent | None = decode(body)
    except UnreadableEvent:
        event = None
    return Entry(seq, call_id, event, body, appended_at, attempts, since)
