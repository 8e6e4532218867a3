"""The ticket source's health page: is the mirror fresh, what failed last, are calls reported.

    GET /admin/ticket-source

The facts are the admin API's (`routing_core.store.ticket_health`, also GET
/api/admin/ticket-source), put into words here: one state line per source ("healthy", "failing
since ...", "never synced"), then each time with how long ago. The configured source is the
one the router runs (its live details); with the built-in tables the page says there is
nothing to sync, and a row left by a source no longer configured is marked as not in use.
Every value, the last error's text included, is escaped by the template.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from aiohttp import web

import sticky_router.web.i18n.admin  # noqa: F401 - registers the words of these pages
from sticky_router.routing_core.store.ticket_health import HealthState, SourceHealth, source_health
from sticky_router.web import keys
from sticky_router.web.auth.sessions import Principal
from sticky_router.web.i18n.words import translator
from sticky_router.web.pops.view import ago
from sticky_router.web.security import csrf_fields, require_admin
from sticky_router.web.templates import render

Words = Callable[..., str]


@dataclass(frozen=True, slots=True)
class SourceView:
    name: str
    state: HealthState
    state_line: str
    facts: tuple[tuple[str, str, str], ...]  # (id, label, value)
    in_use: bool


def when(t: Words, moment: datetime | None, now: datetime) -> str:
    """`2026-12-02 09:00 UTC (5 min ago)`, or `never`."""
    if moment is None:
        return t("ticket_source.never")
    shown = moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return t("ticket_source.when", time=shown, ago=ago(t, now - moment))


def state_line(t: Words, health: SourceHealth, now: datetime) -> str:
    state = health.state
    if state is HealthState.HEALTHY:
        return t("ticket_source.healthy", sync=when(t, health.last_sync_at, now))
    if state is HealthState.NEVER_SYNCED:
        return t("ticket_source.never_synced")
    if health.last_sync_at is None:
        return t("ticket_source.failing_never_synced", failures=health.failures_in_a_row)
    # Only the last good sync is kept, not the first failure after it: the source has been
    # failing since that moment, as far as the mirror's freshness goes.
    return t(
        "ticket_source.failing_since",
        since=when(t, health.last_sync_at, now),
        failures=health.failures_in_a_row,
    )


def source_view(t: Words, health: SourceHealth, now: datetime, in_use: bool) -> SourceView:
    error = "-"
    if health.last_error is not None:
        error = t("ticket_source.error_at", error=health.last_error,
                  at=when(t, health.last_error_at, now))  # fmt: skip
    facts = (
        ("last-sync", t("ticket_source.last_sync"), when(t, health.last_sync_at, now)),
        ("last-full-sync", t("ticket_source.last_full_sync"),
         when(t, health.last_full_sync_at, now)),
        ("newest-update", t("ticket_source.newest_update"), when(t, health.newest_update, now)),
        ("open-tickets", t("ticket_source.open_tickets"), str(health.open_tickets)),
        ("failures", t("ticket_source.failures"), str(health.failures_in_a_row)),
        ("last-error", t("ticket_source.last_error"), error),
        ("reports-pending", t("ticket_source.reports_pending"), str(health.reports_pending)),
        ("reports-given-up", t("ticket_source.reports_given_up"), str(health.reports_given_up)),
    )  # fmt: skip
    return SourceView(health.source, health.state, state_line(t, health, now), facts, in_use)


@require_admin
async def ticket_source_page(request: web.Request, admin: Principal) -> web.StreamResponse:
    t = translator(admin.language)
    now = request.app[keys.CLOCK]()
    details = request.app.get(keys.TICKET_DETAILS)
    configured = details.source_name if details is not None else None
    healths = await source_health(request.app[keys.POOL])
    if configured is not None and all(one.source != configured for one in healths):
        healths.insert(0, SourceHealth.not_yet(configured))
    sources = [source_view(t, one, now, one.source == configured) for one in healths]
    return render(
        request,
        "admin_ticket_source.html",
        admin.language,
        admin=admin,
        configured=configured,
        sources=sources,
        **csrf_fields(admin),
    )


def setup(app: web.Application) -> None:
    app.router.add_get("/admin/ticket-source", ticket_source_page)
