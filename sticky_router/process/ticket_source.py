"""The ticket source a deployment chose, and its background work in a router process.

`builtin` (the default): the product's own tables; nothing runs in the background and the
lookup reads the tables as ever. `http` (the generic HTTP source, tickets_http) and `redmine`
(tickets_redmine): the source's open tickets are mirrored every `sync_interval` (a full resync
every `full_every`), finished calls are reported back, and decisions read the mirror
(`mirror_name`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Literal, Protocol

import asyncpg

from sticky_router.process.config import Config
from sticky_router.routing_core.ticket_details import DetailsTiming, LiveTicketDetails
from sticky_router.routing_core.ticket_sync import (
    CallReporter,
    Every,
    ReportTiming,
    SyncTiming,
    TicketMirrorSync,
)
from sticky_router.routing_core.tickets import TicketObserver, TicketSource
from sticky_router.tickets_http.client import HttpTicketSource
from sticky_router.tickets_redmine.client import RedmineTicketSource
from sticky_router.tickets_redmine.settings import RedmineFields, RedmineSettings


class ExternalSource(TicketSource, Protocol):
    async def close(self) -> None: ...


@dataclass(frozen=True)
class TicketSourceSettings:
    """An external source's settings; the token is a plain string here: the repr hides it."""

    url: str
    token: str | None = None
    kind: Literal["http", "redmine"] = "http"
    redmine: RedmineSettings | None = None  # what Redmine's fields mean, with kind="redmine"
    timeout_seconds: float = 2.0
    sync_timeout_seconds: float = 30.0
    sync_interval_seconds: float = 30.0
    full_every: timedelta = timedelta(hours=1)
    report_delay: timedelta = timedelta(seconds=60)
    report_retry_first: timedelta = timedelta(seconds=30)  # then doubling, an hour at most
    pop_timeout_seconds: float = 0.8

    def __repr__(self) -> str:
        return f"TicketSourceSettings(kind={self.kind!r}, url={self.url!r})"

    @classmethod
    def from_config(cls, config: Config) -> TicketSourceSettings | None:
        url = config.require_ticket_source_url()
        if url is None:
            return None
        token = config.ticket_source_token
        kind: Literal["http", "redmine"] = (
            "redmine" if config.ticket_source == "redmine" else "http"
        )
        return cls(
            url=url,
            token=token.get_secret_value() if token else None,
            kind=kind,
            redmine=_redmine(config, url, token.get_secret_value() if token else "")
            if kind == "redmine"
            else None,
            timeout_seconds=config.ticket_source_timeout_ms / 1000,
            sync_timeout_seconds=config.ticket_sync_timeout_seconds,
            sync_interval_seconds=config.ticket_sync_interval_seconds,
            full_every=timedelta(minutes=config.ticket_full_resync_minutes),
            report_delay=timedelta(seconds=config.ticket_report_delay_seconds),
            pop_timeout_seconds=config.ticket_pop_timeout_ms / 1000,
        )


def _redmine(config: Config, url: str, api_key: str) -> RedmineSettings:
    def names(listed: str) -> frozenset[str]:
        return frozenset(name.strip() for name in listed.split(",") if name.strip())

    return RedmineSettings(
        url=url,
        api_key=api_key,
        public_url=config.redmine_public_url,
        project=config.redmine_project,
        fields=RedmineFields(
            phone=config.redmine_phone_field,
            account=config.redmine_account_field or None,
            customer=config.redmine_customer_field or None,
            customer_class=config.redmine_class_field or None,
            last_faults=config.redmine_faults_field or None,
            promised_by=config.redmine_promised_field or None,
        ),
        pending_statuses=names(config.redmine_pending_statuses),
        resolved_statuses=names(config.redmine_resolved_statuses),
        default_region=config.default_region,
        write_as_agent=config.redmine_write_as_agent,
    )


def mirror_name(settings: TicketSourceSettings | None) -> str | None:
    """What RoutingService reads tickets from: the external source's mirror, or the tables."""
    return None if settings is None else settings.kind


def build_source(settings: TicketSourceSettings) -> ExternalSource:
    if settings.kind == "redmine":
        assert settings.redmine is not None, "kind=redmine comes with its RedmineSettings"
        return RedmineTicketSource(
            replace(
                settings.redmine,
                timeout_seconds=settings.timeout_seconds,
                sync_timeout_seconds=settings.sync_timeout_seconds,
            )
        )
    return HttpTicketSource(
        settings.url,
        settings.token,
        timeout_seconds=settings.timeout_seconds,
        sync_timeout_seconds=settings.sync_timeout_seconds,
    )


class TicketSourceWork:
    """Mirror sync and call reports of one process, each on its own timer."""

    def __init__(
        self, settings: TicketSourceSettings, pool: asyncpg.Pool, observer: TicketObserver
    ) -> None:
        self.source = build_source(settings)
        self.sync = TicketMirrorSync(
            self.source,
            pool,
            timing=SyncTiming(
                settings.sync_timeout_seconds,
                settings.full_every,
                # Another process (the router, the FastAGI server) synced this interval.
                min_gap=timedelta(seconds=settings.sync_interval_seconds * 0.8),
            ),
            observer=observer,
        )
        self.reporter = CallReporter(
            self.source,
            pool,
            timing=ReportTiming(
                timeout_seconds=settings.timeout_seconds,
                settle=settings.report_delay,
                retry_first=settings.report_retry_first,
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
