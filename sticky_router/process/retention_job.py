"""The retention job of the router process: purge old personal data and expired web sessions.

`run_once` is also what `sticky-router purge` runs. In the router it runs every
`interval` seconds (the first time shortly after start, not at once: start-up has enough to
do); a failed run is logged and the next one tries again, because a purge may always wait an
hour while calls may not.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import asyncpg
import structlog

from sticky_router.routing_core.store.retention import RetentionPolicy, purge
from sticky_router.web.auth.sessions import purge_expired

log = structlog.get_logger("sticky_router.retention")

FIRST_RUN_SECONDS = 60.0


def utc_now() -> datetime:
    return datetime.now(UTC)


class RetentionJob:
    def __init__(
        self,
        pool: asyncpg.Pool,
        policy: RetentionPolicy,
        *,
        session_idle: timedelta,
        count: Callable[[str, int], None] | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._pool = pool
        self._policy = policy
        self._session_idle = session_idle
        self._count = count
        self._clock = clock
        self._task: asyncio.Task[None] | None = None

    async def run_once(self) -> dict[str, int]:
        """Rows purged by kind (web_sessions included)."""
        now, started = self._clock(), time.monotonic()
        purged = await purge(self._pool, self._policy, now)
        rows = {
            **purged.rows,
            "web_sessions": await purge_expired(self._pool, now, self._session_idle),
        }
        if self._count is not None:
            for kind, count in rows.items():
                self._count(kind, count)
        log.info(
            "retention_purged",
            seconds=round(time.monotonic() - started, 3),
            batches=purged.batches,
            deferred=purged.deferred,
            **rows,
        )
        return rows

    def start(self, interval: float, first_after: float = FIRST_RUN_SECONDS) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._every(interval, first_after))

    async def stop(self) -> None:
        """Cancel a run in the middle: each batch is its own transaction, so it rolls back whole
        and the next run deletes it."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _every(self, interval: float, first_after: float) -> None:
        await asyncio.sleep(min(first_after, interval))
        while True:
            try:
                await self.run_once()
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
                log.exception("retention_failed", why="tried again at the next run")
            await asyncio.sleep(interval)
