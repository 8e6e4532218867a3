"""The admin dashboard (how sticky routing pays off) and the what-if preview.

    GET  /admin/dashboard[?days=30]   charts from the recorded calls (routing_core.store.reports)
    GET  /admin/what-if               the form
    POST /admin/what-if               replay the recorded calls under candidate settings

The replay runs in worker processes (routing_core.store.replay.run_replay_in_processes), one at
a time: this event loop, which also serves calls' screens, only waits for it.
"""

from __future__ import annotations

from datetime import timedelta

from aiohttp import web

from sticky_router.routing_core.settings import InvalidSetting, Scope, ScopedValue, validate_setting
from sticky_router.routing_core.simulation_report import per_agent
from sticky_router.routing_core.store.callbacks import lapsed
from sticky_router.routing_core.store.replay import run_replay_in_processes
from sticky_router.routing_core.store.reports import dashboard
from sticky_router.web import keys
from sticky_router.web.admin.charts import bar_chart, line_chart
from sticky_router.web.admin.replay_words import figure_rows, words_or
from sticky_router.web.auth.sessions import Principal
from sticky_router.web.i18n.words import translator
from sticky_router.web.security import csrf_fields, require_admin
from sticky_router.web.templates import render

MAX_DAYS = 366


@require_admin
async def dashboard_page(request: web.Request, admin: Principal) -> web.StreamResponse:
    try:
        days = max(1, min(MAX_DAYS, int(request.query.get("days", "30"))))
    except ValueError:
        days = 30
    until = request.app[keys.CLOCK]()
    figures = await dashboard(request.app[keys.POOL], until - timedelta(days=days), until)
    not_called_back = await lapsed(request.app[keys.POOL], until - timedelta(days=days))
    eligible = sum(d.eligible for d in figures.days)
    connected = sum(d.connected for d in figures.days)
    t = translator(admin.language)
    charts = [
        line_chart(
            t("dashboard.share_chart"),
            [(d.day.strftime("%m-%d"), d.share) for d in figures.days],
            percent=True,
        ),
        bar_chart(
            t("dashboard.misses_chart"),
            [(words_or(t, f"reason.{reason}", reason), calls) for reason, calls in figures.misses],
        ),
        bar_chart(
            t("dashboard.answer_chart"),
            [(kind, seconds) for kind, seconds, _ in figures.answer_seconds],
            unit=" s",
        ),
        bar_chart(t("dashboard.load_chart"), figures.load[:25]),
    ]
    return render(
        request,
        "admin_dashboard.html",
        admin.language,
        admin=admin,
        days=days,
        eligible=eligible,
        connected=connected,
        share=f"{connected / eligible:.1%}" if eligible else "-",
        charts=charts,
        outages=figures.outages,
        not_called_back=not_called_back,
        **csrf_fields(admin),
    )


def _what_if(
    request: web.Request, admin: Principal, status: int = 200, **context: object
) -> web.Response:
    defaults: dict[str, object] = {"changes": "", "scope": "global", "error": None, "table": None,
                                   "agents": None, "seconds": None, "calls": None}  # fmt: skip
    return render(
        request,
        "admin_what_if.html",
        admin.language,
        status=status,
        admin=admin,
        **{**defaults, **context},
        **csrf_fields(admin),
    )


@require_admin
async def what_if_form(request: web.Request, admin: Principal) -> web.StreamResponse:
    return _what_if(request, admin)


def parse_changes(text: str, scope_text: str) -> list[ScopedValue]:
    """One `key=value` a line; raises InvalidSetting naming the field."""
    kind, _, value = scope_text.strip().partition(":")
    try:
        scope = Scope(kind)
    except ValueError:
        raise InvalidSetting(f"scope: unknown scope {kind!r}") from None
    if scope is Scope.DEFAULT or (scope is not Scope.GLOBAL and not value):
        raise InvalidSetting(f"scope: {scope_text!r} needs the form queue:NAME, did:NUMBER, "
                             "customer_class:NAME or global")  # fmt: skip
    changes = []
    for line in text.splitlines():
        if not line.strip():
            continue
        key, sign, raw = line.partition("=")
        if not sign:
            raise InvalidSetting(f"expected key=value, got {line.strip()!r}")
        parsed: object = raw.strip()
        if raw.strip().lstrip("-").isdigit():
            parsed = int(raw.strip())
        elif raw.strip() in ("true", "false"):
            parsed = raw.strip() == "true"
        checked = validate_setting(key.strip(), parsed)
        changes.append(ScopedValue(scope, value or None, key.strip(), checked))
    if not changes:
        raise InvalidSetting("no candidate setting given (one key=value a line)")
    return changes


@require_admin
async def what_if_run(request: web.Request, admin: Principal) -> web.StreamResponse:
    form = await request.post()
    changes_text = str(form.get("changes", ""))[:2000]
    scope_text = str(form.get("scope", "global"))[:100]
    try:
        candidate = parse_changes(changes_text, scope_text)
    except InvalidSetting as error:
        return _what_if(request, admin, 422, changes=changes_text, scope=scope_text,
                        error=str(error))  # fmt: skip
    database_url = request.app.get(keys.DATABASE_URL)
    if database_url is None:
        problem = "the preview needs the database URL (run it inside the router)"
        return _what_if(request, admin, 503, changes=changes_text, scope=scope_text,
                        error=problem)  # fmt: skip
    lock = request.app[keys.REPLAY_LOCK]
    if lock.locked():
        problem = "another preview is running; try again when it has finished"
        return _what_if(request, admin, 429, changes=changes_text, scope=scope_text,
                        error=problem)  # fmt: skip
    async with lock:
        report = await run_replay_in_processes(database_url, candidate)
    return _what_if(
        request,
        admin,
        changes=changes_text,
        scope=scope_text,
        table=figure_rows(translator(admin.language), report),
        agents=per_agent(report)[:10],
        seconds=f"{report.seconds:.1f}",
        calls=f"{report.calls:,}",
    )


def setup(app: web.Application) -> None:
    app.router.add_get("/admin/dashboard", dashboard_page)
    app.router.add_get("/admin/what-if", what_if_form)
    app.router.add_post("/admin/what-if", what_if_run)
