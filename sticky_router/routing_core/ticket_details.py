"""Ticket details for the agent's screen, asked of the source live: never longer than a hard
timeout, remembered for a short while.

The decision has its owner and status from the mirror; the pop wants more (faults, promises, the
link into the ticket system). A source that does not answer in time makes the pop say "ticket
system unavailable" rather than wait, and that failure is remembered for a few seconds too, so a
source that is down costs one timeout per few seconds, not one per ringing phone. Two pops for
the same caller at once (a queue ringing everyone) share one request.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

import structlog

from sticky_router.routing_core.model import CallerKey
from sticky_router.routing_core.tickets import (
    SourceFailure,
    TicketLookup,
    TicketObserver,
    TicketSource,
    TicketSourceError,
)

log = structlog.get_logger("sticky_router.tickets")


@dataclass(frozen=True, slots=True)
class DetailsTiming:
    timeout_seconds: float = 0.8  # what a ringing agent's pop may wait for the source
    fresh_seconds: float = 30.0  # an answer is reused this long
    failure_seconds: float = 5.0  # "unavailable" is reused this long
    max_entries: int = 2000


class LiveTicketDetails:
    def __init__(
        self,
        source: TicketSource,
        *,
        timing: DetailsTiming = DetailsTiming(),
        observer: TicketObserver | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._source = source
        self._timing = timing
        self._observer = observer
        self._clock = clock
        self._cache: OrderedDict[CallerKey, tuple[float, TicketLookup | None]] = OrderedDict()
        self._asking: dict[CallerKey, asyncio.Future[TicketLookup | None]] = {}

    @property
    def source_name(self) -> str:
        """The configured source (`http`, `redmine`): what the admin page reports on."""
        return self._source.name

    async def lookup(self, key: CallerKey) -> TicketLookup | None:
        """What the source says of this caller key, or None: unavailable (down, slow, garbage)."""
        now = self._clock()
        cached = self._cache.get(key)
        if cached is not None and cached[0] > now:
            self._cache.move_to_end(key)
            return cached[1]
        asking = self._asking.get(key)
        if asking is None:
            asking = asyncio.ensure_future(self._ask(key))
            self._asking[key] = asking
            asking.add_done_callback(lambda _: self._asking.pop(key, None))
        return await asyncio.shield(asking)

    async def _ask(self, key: CallerKey) -> TicketLookup | None:
        found: TicketLookup | None
        try:
            async with asyncio.timeout(self._timing.timeout_seconds):
                found = await self._source.lookup(key)
            keep = self._timing.fresh_seconds
        except Exception as error:
            failure = (
                error.failure
                if isinstance(error, TicketSourceError)
                else (
                    SourceFailure.TIMEOUT
                    if isinstance(error, TimeoutError)
                    else SourceFailure.INVALID
                )
            )
            log.warning(
                "ticket_source_failed", source=self._source.name, operation="lookup",
                failure=failure.value, key_kind=key.kind.value,
            )  # fmt: skip
            self._count(failure)
            found, keep = None, self._timing.failure_seconds
        self._cache[key] = (self._clock() + keep, found)
        self._cache.move_to_end(key)
        while len(self._cache) > self._timing.max_entries:
            self._cache.popitem(last=False)
        return found

    def _count(self, failure: SourceFailure) -> None:
        if self._observer is None:
            return
        try:
            self._observer.ticket_source_failed(self._source.name, "lookup", failure.value)
        except Exception as error:  # counting must never cost a pop
            log.warning("observer_failed", error=type(error).__name__)
