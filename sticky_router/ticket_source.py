"""The ticket source a deployment chose, and its background work in a router process.

`builtin` (the default): the product's own tables; nothing runs in the background and the
lookup reads the tables as ever. `http`: the generic HTTP source (tickets_http); its open
tickets are mirrored every `sync_interval` (a full resync every `full_every`), finished calls
are reported back, and decisions read the mirror (`mirror_name`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import asyncpg

from routing_core.ticket_details import DetailsTiming, LiveTicketDetails
from routing_core.ticket_sync import (
    CallReporter,
    Every,
    ReportTiming,
    SyncTiming,
    TicketMirrorSync,
)
from routing_core.tickets import TicketObserver
from sticky_router.config import Config
from tickets_http.client import SOURCE_NAME, HttpTicketSource


@dataclass(frozen=True)
class TicketSourceSettings:
    """The HTTP source's settings; the token is a plain string here: the repr hides it."""

    url: str
    token: str | None = None
    timeout_seconds: float = 2.0
    sync_timeout_seconds: float = 30.0
    sync_interval_seconds: float = 30.0
    full_every: timedelta = timedelta(hours=1)
    report_delay: timedelta = timedelta(seconds=60)
    pop_timeout_seconds: float = 0.8

    def __repr__(self) -> str:
        return f"TicketSourceSettings(url={self.url!r})"

    @classmethod
    def from_config(cls, config: Config) -> TicketSourceSettings | None:
        url = config.require_ticket_source_url()
        if url is None:
            return None
        token = config.ticket_source_token
        return cls(
            url=url,
            token=token.get_secret_value() if token else None,
            timeout_seconds=config.ticket_source_timeout_ms / 1000,
            sync_timeout_seconds=config.ticket_sync_timeout_seconds,
            sync_interval_seconds=config.ticket_sync_interval_seconds,
            full_every=timedelta(minutes=config.ticket_full_resync_minutes),
            report_delay=timedelta(seconds=config.ticket_report_delay_seconds),
            pop_timeout_seconds=config.ticket_pop_timeout_ms / 1000,
        )


def mirror_name(settings: TicketSourceSettings | None) -> str | None:
    """What RoutingService reads tickets from: the HTTP source's mirror, or the tables."""
    return None if settings is None else SOURCE_NAME


class TicketSourceWork:
    """Mirror sync and call reports of one process, each on its own timer."""

    def __init__(
        self, settings: TicketSourceSettings, pool: asyncpg.Pool, observer: TicketObserver
    ) -> None:
        self.source = HttpTicketSource(
            settings.url,
            settings.token,
            timeout_seconds=settings.timeout_seconds,
            sync_timeout_seconds=settings.sync_timeout_seconds,
        )
        self.sync = TicketMirrorSync(
            self.source,
            pool,
            timing=SyncTiming(settings.sync_timeout_seconds, settings.full_every),
            observer=observer,
        )
        self.reporter = CallReporter(
            self.source,
            pool,
            timing=ReportTiming(
                timeout_seconds=settings.timeout_seconds, settle=settings.report_delay
            ),
            observer=observer,
        )
        # The pops ask the source live, never longer than `pop_timeout_seconds`.
        self.details = LiveTicketDetails(
            self.source,
            timing=DetailsTiming(timeout_seconds=settings.pop_timeout_seconds),
            observer=observer,
        )
        interval = settings.sync_interval_seconds
        self._timers = (
            Every("ticket_sync", self.sync.sync_once, interval),
            Every("ticket_reports", self.reporter.report_once, interval),
        )

    def start(self) -> None:
        for timer in self._timers:
            timer.start()

    async def stop(self) -> None:
        for timer in self._timers:
            await timer.stop()
        await self.source.close()
