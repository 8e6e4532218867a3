"""From "agent X's phone is ringing for call C" to the pop on X's screen.

`PopDispatcher.agent_ringing` is what the journal's applier calls once a ring is in the history
(see routing_core/ringing.py). It returns at once; a task of its own then finds the agent, waits
(briefly, told by PostgreSQL's notice rather than by polling) for the call's decision, records
the ring once (`agent_pops`: a sticky ring is heard from both ARI and AMI, and only the first
makes a pop), reads the pop and hands it to the hub. Any failure is logged and forgotten: a pop
is never worth a call.

With several router processes (issue 17) the agent's browser may be served by another one: the
recorded ring is told to all of them (web/pops/notices.py), and `pop_made_elsewhere` hands a pop
another router made to this process's screens of that agent.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
import structlog

from sticky_router.routing_core.ringing import RingSource
from sticky_router.routing_core.ticket_details import LiveTicketDetails
from sticky_router.web.pops import store as pop_store
from sticky_router.web.pops.hub import PopHub
from sticky_router.web.pops.notices import PopNotices

log = structlog.get_logger("sticky_router.pops")

# A queue call's decision may be recorded just after its first ring (or by the FastAGI
# process's own journal). Past this wait there is no call to show.
WAIT_FOR_CALL_SECONDS = 2.0
AGENT_CACHE_SECONDS = 60.0
MAX_TASKS = 500


@dataclass(frozen=True)
class _Agent:
    id: int
    language: str


class PopDispatcher:
    def __init__(
        self,
        pool: asyncpg.Pool,
        hub: PopHub,
        clock: Callable[[], datetime],
        wait_for_call: float = WAIT_FOR_CALL_SECONDS,
        notices: PopNotices | None = None,
        ticket_details: LiveTicketDetails | None = None,
    ) -> None:
        self._pool = pool
        self._details = ticket_details
        self._notices = notices
        self._hub = hub
        self._clock = clock
        self._wait_for_call = wait_for_call
        self._agents: dict[str, tuple[float, _Agent | None]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        # Which router made a pop: this process's own come back in the notice, and are skipped.
        self.origin = uuid.uuid4().hex
        if notices is not None:
            notices.on_agent_pop = self.pop_made_elsewhere

    def agent_ringing(self, call_id: str, agent: str, source: RingSource) -> None:
        log.debug("agent_ringing", call_id=call_id, agent=agent, source=source.value)
        self._start(call_id, self._deliver(call_id, agent, source, self._clock(), time.monotonic()))

    def pop_made_elsewhere(self, notice: str) -> None:
        """Another router recorded a ring (AGENT_POP's payload): this process's screens of that
        agent get the pop. Our own notices and agents with no screen here cost nothing more."""
        try:
            told = json.loads(notice)
            origin, agent_id, call_id = told["origin"], int(told["agent_id"]), told["call_id"]
            rang = datetime.fromisoformat(told["rang_at"])
        except (ValueError, KeyError, TypeError):
            log.warning("pop_notice_unreadable", notice=notice[:200])
            return
        if origin == self.origin or self._hub.subscribers(agent_id) == 0:
            return
        self._start(call_id, self._deliver_made_elsewhere(call_id, agent_id, rang))

    def _start(self, call_id: str, work: Coroutine[Any, Any, None]) -> None:
        if len(self._tasks) >= MAX_TASKS:  # a stuck database must not pile up tasks
            work.close()
            log.warning("pop_dropped", call_id=call_id, why="too many pops in flight")
            return
        try:
            task = asyncio.get_running_loop().create_task(self._guarded(call_id, work))
        except Exception:
            work.close()
            log.exception("pop_failed", call_id=call_id)
            return
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _guarded(self, call_id: str, work: Coroutine[Any, Any, None]) -> None:
        """Any failure is logged and forgotten: a pop is never worth a call."""
        try:
            await work
        except asyncio.CancelledError:
            raise
        except Exception as error:
            log.warning("pop_failed", call_id=call_id, error=type(error).__name__)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=2)

    async def _deliver(
        self, call_id: str, endpoint: str, source: RingSource, rang: datetime, started: float
    ) -> None:
        agent = await self._agent(endpoint)
        if agent is None:
            log.debug("pop_not_an_agent", call_id=call_id, endpoint=endpoint)
            return
        if not await self._call_recorded(call_id):
            log.debug("pop_no_call", call_id=call_id)
            return
        recorded = await pop_store.record_ring(
            self._pool, call_id, agent.id, rang, source, self.origin
        )
        if not recorded:
            return  # the other source reported this ring first
        if self._hub.subscribers(agent.id) == 0:
            # Nobody's screen is open; the page asks for current pops when it connects.
            log.debug("pop_no_screen", call_id=call_id, agent_id=agent.id)
            return
        await self._show(call_id, agent.id, agent.language, rang, source.value, started)

    async def _deliver_made_elsewhere(self, call_id: str, agent_id: int, rang: datetime) -> None:
        started = time.monotonic()
        language = await self._pool.fetchval(
            "SELECT language FROM agents WHERE id = $1 AND active", agent_id
        )
        if language is not None:
            await self._show(call_id, agent_id, language, rang, "elsewhere", started)

    async def _show(
        self, call_id: str, agent_id: int, language: str, rang: datetime, source: str,
        started: float,
    ) -> None:  # fmt: skip
        """The pop, read and handed to this process's screens of the agent."""
        pop = await pop_store.load_pop(
            self._pool, call_id, agent_id, language, rang, details=self._details
        )
        delivered = self._hub.publish(agent_id, pop)
        log.info(
            "pop_published", call_id=call_id, agent_id=agent_id, source=source,
            screens=delivered, ms=round((time.monotonic() - started) * 1000, 1),
        )  # fmt: skip

    async def _call_recorded(self, call_id: str) -> bool:
        """Whether the call's decision is recorded, waiting for PostgreSQL's notice if not yet
        (without notices, only what is there now counts)."""
        if await pop_store.interaction_ready(self._pool, call_id):
            return True
        if self._notices is None:
            return False
        with self._notices.expect(call_id) as heard:
            # Decided between the first look and listening: the notice went by unheard.
            if await pop_store.interaction_ready(self._pool, call_id):
                return True
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(heard.wait(), self._wait_for_call)
        return await pop_store.interaction_ready(self._pool, call_id)

    async def _agent(self, endpoint_or_name: str) -> _Agent | None:
        now = time.monotonic()
        cached = self._agents.get(endpoint_or_name)
        if cached is not None and now - cached[0] < AGENT_CACHE_SECONDS:
            return cached[1]
        row = await self._pool.fetchrow(
            "SELECT id, language FROM agents WHERE id = agent_named($1) AND active",
            endpoint_or_name,
        )
        agent = _Agent(row["id"], row["language"]) if row else None
        self._agents[endpoint_or_name] = (now, agent)
        return agent
