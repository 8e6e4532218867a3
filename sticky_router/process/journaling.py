"""The call journal and its applier, as the router and the FastAGI process each run them.

Each process has its own journal file (two processes never share one: the file is locked), and
its own applier writing to PostgreSQL. On start, what a previous run left unapplied (a crash, a
database that never came back before shutdown) is applied first, before anything new.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import structlog

from sticky_router.queue_log.follower import QueueLogFollower
from sticky_router.routing_core.caller_key import normalise_number
from sticky_router.routing_core.ringing import RingingListener
from sticky_router.routing_core.store.applier import JournalApplier, KnowsCalls
from sticky_router.routing_core.store.journal import DEFAULT_MAX_EVENTS, Journal

log = structlog.get_logger("sticky_router.journal")

DEFAULT_JOURNAL_DIR = Path("/var/lib/sticky-router")
# On shutdown, how long PostgreSQL gets to take what is left; the rest waits for the next start.
STOP_DRAIN_SECONDS = 5.0


class Journaling:
    def __init__(
        self,
        path: Path,
        recorder: KnowsCalls,
        *,
        max_events: int = DEFAULT_MAX_EVENTS,
        ringing: RingingListener | None = None,
    ) -> None:
        self.path = path
        self._recorder = recorder
        self._max_events = max_events
        self._ringing = ringing
        self._journal: Journal | None = None
        self.applier: JournalApplier | None = None

    @property
    def journal(self) -> Journal:
        if self._journal is None:
            raise RuntimeError("the journal is not open")
        return self._journal

    async def start(self) -> Journal:
        self._journal = await asyncio.to_thread(
            Journal.open, self.path, max_events=self._max_events
        )
        self.applier = JournalApplier(self._journal, self._recorder, ringing=self._ringing)
        self.applier.start()
        log.info("journal_open", path=str(self.path), backlog=self._journal.backlog)
        return self._journal

    async def stop(self, drain_seconds: float = STOP_DRAIN_SECONDS) -> None:
        if self.applier is not None:
            if not await self.applier.drain(drain_seconds):
                log.warning(
                    "journal_left_for_next_start",
                    backlog=self.journal.backlog,
                    why="PostgreSQL did not take every event before shutdown; they are on "
                    "disk and applied when the process starts again",
                )
            await self.applier.stop()
            self.applier = None
        if self._journal is not None:
            await self._journal.close()
            self._journal = None


def follow_queue_log(
    path: Path | None, journal: Journal, region: str, settle_seconds: float
) -> QueueLogFollower | None:
    """Start learning from Asterisk's queue_log, if the process was told where it is."""
    if path is None:
        log.warning(
            "reconciliation_off",
            why="no queue_log path: calls answered in the queue while the router was down or "
            "cut off from Asterisk are not learned, so their callbacks are not sticky",
        )
        return None
    follower = QueueLogFollower(
        path, journal, lambda raw: normalise_number(raw, region), settle_seconds=settle_seconds
    )
    follower.start()
    return follower
