"""Follow Asterisk's queue_log file and journal what it says about calls.

The follower keeps its place (file identity, byte offset, and the calls still open) in the
journal's marks, written after the events they produced: a crash replays a few lines, which the
idempotent recorder ignores, and never skips one. It reads only lines at least `settle_seconds`
old, so whatever the router learned live about a call is journalled first and wins (a live
report knows more: the decision, the IVR input, the transfer target).

On its very first start it begins at the end of the file: calls from before the router was ever
installed are not its business. A rotated file (logrotate, `logger rotate`) is read to its end
before the new one is started from its beginning.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import structlog

from sticky_router.queue_log.records import QueueLogCalls, parse_line
from sticky_router.routing_core.events import CallEvent

log = structlog.get_logger("sticky_router.queue_log")

MARK = "queue_log"
POLL_SECONDS = 1.0
SETTLE_SECONDS = 5.0
MAX_READ = 1 << 20  # bytes per pass: a long backlog is caught up in steps


class Journal(Protocol):
    async def append(self, *events: CallEvent) -> bool: ...
    async def mark(self, name: str) -> str | None: ...
    async def set_mark(self, name: str, value: str) -> None: ...


@dataclass
class _Place:
    inode: int
    offset: int


class QueueLogFollower:
    def __init__(
        self,
        path: Path,
        journal: Journal,
        normalise: Callable[[str], str | None],
        *,
        settle_seconds: float = SETTLE_SECONDS,
        poll_seconds: float = POLL_SECONDS,
    ) -> None:
        self.path = path
        self._journal = journal
        self._calls = QueueLogCalls(normalise)
        self._settle = settle_seconds
        self._poll = poll_seconds
        self._place: _Place | None = None
        self._task: asyncio.Task[None] | None = None
        self._said_missing = False
        # One pass at a time: the loop's own and a catch_up() would otherwise read from the
        # same place and both move it on, past the end, which looks like a truncated file.
        self._pass = asyncio.Lock()
        self.learned = 0  # events journalled since start

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self.run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def run(self) -> None:
        await self._restore()
        while True:
            try:
                while await self.read_once():
                    pass
            except Exception:  # the follower must outlive a bad pass; the place is kept
                log.exception("queue_log_pass_failed", path=str(self.path))
            await asyncio.sleep(self._poll)

    async def _restore(self) -> None:
        saved = await self._journal.mark(MARK)
        if saved is None:
            return
        with contextlib.suppress(ValueError, KeyError, TypeError):
            state: dict[str, Any] = json.loads(saved)
            self._place = _Place(int(state["inode"]), int(state["offset"]))
            self._calls.restore(state.get("open", {}))

    async def catch_up(self) -> None:
        """Read to the end now, settled or not (before a planned reset, and in tests)."""
        while await self.read_once(settle_seconds=0.0):
            pass

    async def read_once(self, settle_seconds: float | None = None) -> bool:
        """One pass: the settled lines appended since the last. Whether there may be more."""
        async with self._pass:
            return await self._pass_once(settle_seconds)

    async def _pass_once(self, settle_seconds: float | None) -> bool:
        try:
            stat = await asyncio.to_thread(os.stat, self.path)
        except FileNotFoundError:
            if not self._said_missing:
                log.warning("queue_log_missing", path=str(self.path))
                self._said_missing = True
            return False
        self._said_missing = False
        if self._place is None:  # first start ever: from now on
            self._place = _Place(stat.st_ino, stat.st_size)
            await self._save()
            log.info("queue_log_following", path=str(self.path), offset=stat.st_size)
            return False
        if stat.st_ino != self._place.inode or stat.st_size < self._place.offset:
            # Rotated (or truncated): what was left in the old file is gone from this path;
            # the new one is read from its start.
            log.info("queue_log_rotated", path=str(self.path))
            self._place = _Place(stat.st_ino, 0)
        chunk = await asyncio.to_thread(self._read, self._place.offset)
        settle = self._settle if settle_seconds is None else settle_seconds
        lines, used, more = self._settled_lines(chunk, settle)
        events: list[CallEvent] = []
        for text in lines:
            line = parse_line(text)
            if line is not None:
                events.extend(self._calls.events(line))
        if events:
            await self._journal.append(*events)
            self.learned += len(events)
        if used:
            self._place.offset += used
            await self._save()
        return more

    def _read(self, offset: int) -> bytes:
        with self.path.open("rb") as file:
            file.seek(offset)
            return file.read(MAX_READ)

    def _settled_lines(self, chunk: bytes, settle: float) -> tuple[list[str], int, bool]:
        """Whole lines old enough to act on, how many bytes they take, and whether a full
        read suggests more is waiting."""
        cutoff = time.time() - settle
        lines: list[str] = []
        used = 0
        for raw in chunk.splitlines(keepends=True):
            if not raw.endswith(b"\n"):
                break  # Asterisk is still writing this one
            stamp = raw.split(b"|", 1)[0]
            if stamp.isdigit() and int(stamp) > cutoff:
                return lines, used, False
            lines.append(raw.decode("utf-8", errors="replace"))
            used += len(raw)
        return lines, used, len(chunk) == MAX_READ

    async def _save(self) -> None:
        assert self._place is not None
        state = {
            "inode": self._place.inode,
            "offset": self._place.offset,
            "open": self._calls.state(),
        }
        await self._journal.set_mark(MARK, json.dumps(state))
