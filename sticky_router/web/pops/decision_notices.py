"""Hear from PostgreSQL when a call's decision is recorded (LISTEN sticky_call_decided; the
trigger is migration 0007), so a pop waiting for it is made at once, with no polling.

One connection of its own, reconnected with capped backoff; while it is down, a wait simply
runs to its deadline and the caller checks the database once more.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator

import asyncpg
import structlog

log = structlog.get_logger("sticky_router.pops")

CHANNEL = "sticky_call_decided"
BACKOFF = (0.5, 1.0, 2.0, 5.0)
PROBE_SECONDS = 15.0


class DecisionNotices:
    def __init__(self, database_url: str) -> None:
        self._url = database_url
        self._waiting: dict[str, set[asyncio.Event]] = {}
        self._task: asyncio.Task[None] | None = None
        self.listening = asyncio.Event()

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._listen())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    @contextlib.contextmanager
    def expect(self, call_id: str) -> Iterator[asyncio.Event]:
        """An event set when `call_id`'s decision is recorded from now on. Check the database
        after entering (the decision may have come just before) and before waiting on it."""
        heard = asyncio.Event()
        self._waiting.setdefault(call_id, set()).add(heard)
        try:
            yield heard
        finally:
            waiting = self._waiting.get(call_id)
            if waiting is not None:
                waiting.discard(heard)
                if not waiting:
                    del self._waiting[call_id]

    def _heard(self, _connection: object, _pid: int, _channel: str, call_id: object) -> None:
        for heard in self._waiting.get(str(call_id), ()):
            heard.set()

    async def _listen(self) -> None:
        failures = 0
        while True:
            connection: asyncpg.Connection | None = None
            try:
                connection = await asyncpg.connect(self._url, timeout=5)
                await connection.add_listener(CHANNEL, self._heard)
                self.listening.set()
                failures = 0
                while True:  # a connection silently gone shows up as a probe unanswered
                    await asyncio.sleep(PROBE_SECONDS)
                    await asyncio.wait_for(connection.fetchval("SELECT 1"), 5)
            except asyncio.CancelledError:
                raise
            except Exception as error:
                if failures == 0:
                    log.warning("decision_notices_down", error=type(error).__name__)
            finally:
                self.listening.clear()
                if connection is not None and not connection.is_closed():
                    with contextlib.suppress(Exception):
                        await asyncio.wait_for(connection.close(), 2)
            await asyncio.sleep(BACKOFF[min(failures, len(BACKOFF) - 1)])
            failures += 1
