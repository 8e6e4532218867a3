"""What PostgreSQL tells the pops, on one LISTEN connection of each router process:

- `sticky_call_decided` (the trigger of migration 0007): a call's decision is recorded, so a
  pop waiting for it is made at once, with no polling (`expect`);
- `sticky_agent_pop` (web/pops/store.py `record_ring`): a ring became a pop, maybe in another
  router process, whose screens are not ours; `on_agent_pop` hears it. With several routers
  (issue 17) the agent's browser may be served by any of them.

One connection of its own, given up as soon as the server closes it (a failover: the URL may
list a primary and its replicas) and reconnected with capped backoff. While it is down, a wait
simply runs to its deadline and the caller checks the database once more, and a pop made
elsewhere reaches the screen when the page next (re)connects (it asks for its current pops).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterator

import asyncpg
import structlog

log = structlog.get_logger("sticky_router.pops")

CALL_DECIDED = "sticky_call_decided"
AGENT_POP = "sticky_agent_pop"
BACKOFF = (0.5, 1.0, 2.0, 5.0)
PROBE_SECONDS = 15.0


class PopNotices:
    def __init__(self, database_url: str) -> None:
        self._url = database_url
        self._waiting: dict[str, set[asyncio.Event]] = {}
        self._task: asyncio.Task[None] | None = None
        self.listening = asyncio.Event()
        # Told each pop made by any router (the payload of record_ring's notice).
        self.on_agent_pop: Callable[[str], None] | None = None

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

    def _decided(self, _connection: object, _pid: int, _channel: str, call_id: object) -> None:
        for heard in self._waiting.get(str(call_id), ()):
            heard.set()

    def _popped(self, _connection: object, _pid: int, _channel: str, payload: object) -> None:
        if self.on_agent_pop is not None:
            self.on_agent_pop(str(payload))

    async def _listen(self) -> None:
        failures = 0
        while True:
            connection: asyncpg.Connection | None = None
            try:
                connection = await asyncpg.connect(self._url, timeout=5)
                closed = asyncio.Event()
                connection.add_termination_listener(lambda _connection, e=closed: e.set())
                await connection.add_listener(CALL_DECIDED, self._decided)
                await connection.add_listener(AGENT_POP, self._popped)
                self.listening.set()
                failures = 0
                while True:
                    # A server that goes away (a failover) closes the connection: reconnect at
                    # once. One silently gone shows up as a probe unanswered.
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(closed.wait(), PROBE_SECONDS)
                        raise ConnectionResetError("PostgreSQL closed the LISTEN connection")
                    await asyncio.wait_for(connection.fetchval("SELECT 1"), 5)
            except asyncio.CancelledError:
                raise
            except Exception as error:
                if failures == 0:
                    log.warning("pop_notices_down", error=type(error).__name__)
            finally:
                self.listening.clear()
                if connection is not None and not connection.is_closed():
                    with contextlib.suppress(Exception):
                        await asyncio.wait_for(connection.close(), 2)
            await asyncio.sleep(BACKOFF[min(failures, len(BACKOFF) - 1)])
            failures += 1
