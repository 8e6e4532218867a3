"""The automatic outage mode at work: every few seconds, each queue's backlog as Asterisk
reports it is judged (routing_core.backlog) under that queue's settings, and an incident is
declared or ended, audited like one a supervisor declares (actor `automatic`).

Several processes may watch the same Asterisk (the router and a FastAGI server, two routers):
the database lets only one automatic incident be open per queue (migration 0015), so the second
one to see the backlog finds it declared. Without a fresh picture of the queues (AMI down) it
does nothing: an outage is neither started nor ended on what it cannot see.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Protocol

import asyncpg
import structlog

from sticky_router.routing_core.backlog import QueueBacklog, Thresholds, Verdict
from sticky_router.routing_core.dialplan_safe import is_queue
from sticky_router.routing_core.settings import resolve_settings
from sticky_router.routing_core.store import Connection
from sticky_router.routing_core.store.incidents import NewIncident, declare, end, in_force
from sticky_router.routing_core.store.settings_store import read_settings_rows

log = structlog.get_logger("sticky_router.outage")

# The actor of what it declares and ends, in incidents and the audit (people are `admin:name`).
AUTOMATIC = "automatic"
LOOK_EVERY = 2.0
MAX_QUEUES = 500  # queue names come from AMI: a bound on what is judged


class QueueCallers(Protocol):
    """Callers waiting per queue (ami.caller_board.CallerBoard)."""

    known: bool

    def backlog(self, now: float) -> dict[str, tuple[int, float]]: ...


class BacklogWatch:
    def __init__(
        self,
        pool: asyncpg.Pool,
        callers: QueueCallers,
        *,
        every: float = LOOK_EVERY,
        clock: Callable[[], float] = time.monotonic,
        counted: Callable[[int, int], None] | None = None,
    ) -> None:
        self._pool = pool
        self._counted = counted  # (declared, automatic) in force, at every look (the metric)
        self._callers = callers
        self._every = every
        self._clock = clock
        self._queues: dict[str, QueueBacklog] = {}

    async def run(self) -> None:
        """Until cancelled; a database that does not answer only skips a look."""
        failing = False
        while True:
            try:
                async with asyncio.timeout(max(self._every, 5.0)):
                    await self.look()
                failing = False
            except Exception as error:  # told once, until a look succeeds again
                told = log.debug if failing else log.warning
                told("outage_watch_failed", error=f"{type(error).__name__}: {error}")
                failing = True
            await asyncio.sleep(self._every)

    async def look(self) -> None:
        if not self._callers.known:
            return
        now = self._clock()
        backlog = self._callers.backlog(now)
        async with self._pool.acquire() as connection:
            rows = await read_settings_rows(connection)
            incidents = await in_force(connection)
            ours = {
                str(i["scope_value"]): int(str(i["id"]))
                for i in incidents
                if i["started_by"] == AUTOMATIC and i["scope_kind"] == "queue"
            }
            declared = {
                str(i["scope_value"]) if i["scope_kind"] == "queue" else "*"
                for i in incidents
                if i["started_by"] != AUTOMATIC and i["scope_kind"] in ("queue", "global")
            }
            if self._counted is not None:
                automatic = sum(1 for i in incidents if i["started_by"] == AUTOMATIC)
                self._counted(len(incidents) - automatic, automatic)
            queues = sorted(q for q in set(backlog) | set(ours) if is_queue(q))[:MAX_QUEUES]
            for queue in queues:
                knobs = resolve_settings(rows, queue=queue, did=None, customer_class=None).values
                waiting, longest = backlog.get(queue, (0, 0.0))
                verdict = self._queues.setdefault(queue, QueueBacklog()).judge(
                    Thresholds.of(knobs), waiting, longest, now,
                    ours_in_force=queue in ours,
                    declared_in_force=queue in declared or "*" in declared,
                )  # fmt: skip
                if verdict is Verdict.START:
                    await self._start(connection, queue, waiting, longest)
                elif verdict is Verdict.END:
                    async with connection.transaction():
                        await end(connection, ours[queue], AUTOMATIC)
                    log.warning("outage_ended_automatically", queue=queue, incident=ours[queue])
        for queue in set(self._queues) - set(queues):
            del self._queues[queue]  # nothing waiting and no incident: nothing to remember

    async def _start(
        self, connection: Connection, queue: str, waiting: int, longest: float
    ) -> None:
        description = f"Backlog: {waiting} callers waiting, the longest for {longest:.0f} s"
        incident = NewIncident("queue", queue, description, None, None)
        try:
            async with connection.transaction():
                number = await declare(connection, incident, AUTOMATIC)
        except asyncpg.UniqueViolationError:
            return  # another watcher of this Asterisk declared it a moment ago
        log.warning("outage_started_automatically", queue=queue, incident=number,
                    waiting=waiting, longest_wait_seconds=round(longest))  # fmt: skip
