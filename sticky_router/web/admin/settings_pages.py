"""The admin settings page, in words: for one scope (every call, a queue, a dialled number or a
customer class, picked from the ones the line knows), every setting with its label, a one-line
explanation, unit and range, the value in force and where it comes from, and the control its
kind needs; a change can be previewed on the recorded calls before it is saved.

    GET  /admin/settings[?scope=global|queue:NAME|did:NUMBER|customer_class:NAME]
    POST /admin/settings   (form: key, scope, value, action=save|preview|clear, csrf_token)

Saving goes through the JSON API's own path (`admin_api.apply_change`: same checks, same
audit); a refusal is shown on the setting's own row, keeping what the admin typed. The preview
replays the last PREVIEW_DAYS of recorded calls under the settings in force and with the change,
in worker processes, one replay at a time (the what-if page's lock).
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import structlog
from aiohttp import web

import sticky_router.web.i18n.admin
import sticky_router.web.i18n.settings  # noqa: F401
from sticky_router.routing_core.settings import (
    SETTING_KEYS,
    InvalidSetting,
    Scope,
    ScopedValue,
    resolve_settings,
    validate_setting,
)
from sticky_router.routing_core.simulation_report import per_agent
from sticky_router.routing_core.store.replay import run_replay_in_processes
from sticky_router.routing_core.store.settings_store import clear_setting
from sticky_router.web import keys
from sticky_router.web.admin.replay_words import figure_rows
from sticky_router.web.admin.setting_controls import CONTROLS, Control, read_typed
from sticky_router.web.admin.settings_api import apply_change, asterisk_queues
from sticky_router.web.auth.sessions import Principal
from sticky_router.web.errors import InvalidField
from sticky_router.web.i18n.words import translator
from sticky_router.web.security import csrf_fields, require_admin
from sticky_router.web.templates import render

log = structlog.get_logger(__name__)

AUDIT_SHOWN = 25
PREVIEW_DAYS = 28
# Queues and numbers offered as scopes: those with settings, those calls used lately (a full
# scan of ten million interactions would make the page slow; a month is enough to know), and
# the queues Asterisk has.
RECENT_DAYS = 30
SCOPES_SHOWN = 200
PROMPT_LIST_SECONDS = 2.0


@dataclass(frozen=True, slots=True)
class PageScope:
    scope: Scope
    value: str | None

    @property
    def param(self) -> str:
        return "global" if self.scope is Scope.GLOBAL else f"{self.scope.value}:{self.value}"


def parse_scope(text: str) -> PageScope | None:
    kind, _, value = text.strip().partition(":")
    try:
        scope = Scope(kind)
    except ValueError:
        return None
    if scope is Scope.GLOBAL:
        return PageScope(scope, None)
    if scope is Scope.DEFAULT or not value:
        return None
    return PageScope(scope, value[:64])


async def known_scopes(request: web.Request) -> dict[str, list[str]]:
    pool = request.app[keys.POOL]
    since = request.app[keys.CLOCK]() - timedelta(days=RECENT_DAYS)
    lists: dict[str, list[str]] = {}
    for kind, column in (("queue", "queue"), ("did", "did")):
        found = await pool.fetch(
            f"SELECT scope_value AS v FROM routing_settings WHERE scope_kind = $1 "
            f"UNION SELECT DISTINCT {column} FROM interactions "
            f"WHERE started_at >= $2 AND {column} IS NOT NULL ORDER BY 1 LIMIT $3",
            kind, since, SCOPES_SHOWN,
        )  # fmt: skip
        lists[kind] = [r["v"] for r in found if r["v"]]
    lists["queue"] = sorted(set(lists["queue"]) | (asterisk_queues(request) or set()))[
        :SCOPES_SHOWN
    ]
    classes = await pool.fetch("SELECT name FROM customer_classes ORDER BY name LIMIT $1",
                               SCOPES_SHOWN)  # fmt: skip
    lists["customer_class"] = [r["name"] for r in classes]
    return lists


async def prompt_names(request: web.Request) -> list[str] | None:
    """The prompts Asterisk has, or None when it cannot say now (the page then asks for a name)."""
    prompts = request.app.get(keys.PROMPTS)
    if prompts is None:
        return None
    try:
        async with asyncio.timeout(PROMPT_LIST_SECONDS):
            return sorted(await prompts())
    except Exception as error:  # a page that loads beats a picker: asking is the fallback
        log.warning("prompt_list_failed", error=repr(error))
        return None


def in_words(t: Any, key: str, value: Any) -> str:
    control = CONTROLS[key]
    match control.control:
        case Control.SWITCH:
            return str(t("switch.on" if value else "switch.off"))
        case Control.CHOICE:
            return str(t(f"choice.{key}.{value}"))
        case Control.NUMBER:
            return f"{value} {t(f'unit.{control.unit}')}"
        case Control.QUEUE:
            return str(value) if value else str(t("settings.same_queue"))
    return str(value)


def scope_in_words(t: Any, here: PageScope) -> str:
    if here.scope is Scope.GLOBAL:
        return str(t("settings.scope_global"))
    return str(t(f"settings.scope_{here.scope.value}", value=here.value))


def _source_in_words(t: Any, source: Scope, here: PageScope) -> str:
    if source is here.scope:
        return str(t("settings.from_here"))
    if source is Scope.DEFAULT:
        return str(t("settings.from_default"))
    return str(t("settings.from_global"))


def _options(key: str, t: Any, current: Any, lists: dict[str, list[str]],
             prompts: list[str] | None) -> list[tuple[str, str]]:  # fmt: skip
    """A choice, sound or queue control's (value, words); the value in force always among them."""
    control = CONTROLS[key]
    match control.control:
        case Control.SWITCH:
            return [("on", t("switch.on")), ("off", t("switch.off"))]
        case Control.CHOICE:
            return [(c, t(f"choice.{key}.{c}")) for c in control.choices]
        case Control.QUEUE:
            queues = sorted(set(lists["queue"]) | ({current} if current else set()))
            return [("", t("settings.same_queue"))] + [(q, q) for q in queues]
        case Control.SOUND if prompts is not None:
            listed = [(p, p) for p in prompts]
            if current not in prompts:
                listed.insert(0, (current, t("settings.sound_missing", sound=current)))
            return listed
    return []


async def _page(
    request: web.Request,
    admin: Principal,
    here: PageScope,
    *,
    status: int = 200,
    notice: str | None = None,
    refused: tuple[str, str] | None = None,
    typed: tuple[str, str] | None = None,
    preview: dict[str, Any] | None = None,
) -> web.Response:
    t = translator(admin.language)
    pool = request.app[keys.POOL]
    stored = await pool.fetch(
        "SELECT scope_kind, scope_value, key, value::text AS value, updated_by, updated_at "
        "FROM routing_settings ORDER BY key, scope_kind, scope_value"
    )
    this_call = {kind.value: here.value if here.scope is kind else None
                 for kind in (Scope.QUEUE, Scope.DID, Scope.CUSTOMER_CLASS)}  # fmt: skip
    resolved = resolve_settings(
        [ScopedValue(Scope(r["scope_kind"]), r["scope_value"] or None, r["key"],
                     json.loads(r["value"])) for r in stored],
        **this_call,
    )  # fmt: skip
    values = resolved.values.model_dump(mode="json")
    lists = await known_scopes(request)
    prompts = await prompt_names(request)
    stored_here = {
        r["key"]
        for r in stored
        if (r["scope_kind"], r["scope_value"] or None) == (here.scope.value, here.value)
    }
    items = []
    for key in SETTING_KEYS:
        control = CONTROLS[key]
        value = values[key]
        form_value = typed[1] if typed and typed[0] == key else _form_text(key, value)
        items.append({
            "key": key,
            "control": control,
            "label": t(f"setting.{key}.label"),
            "help": t(f"setting.{key}.help"),
            "range": t("settings.range", minimum=control.minimum, maximum=control.maximum,
                       unit=t(f"unit.{control.unit}")) if control.control is Control.NUMBER else "",
            "in_force": in_words(t, key, value),
            "source": _source_in_words(t, resolved.sources[key], here),
            "stored_here": key in stored_here,
            "form_value": form_value,
            "options": _options(key, t, value, lists, prompts),
            "refused": refused[1] if refused and refused[0] == key else None,
        })  # fmt: skip
    audit = await pool.fetch(
        "SELECT at, actor, scope_kind, scope_value, key, old_value::text AS old, "
        "new_value::text AS new FROM settings_audit ORDER BY id DESC LIMIT $1",
        AUDIT_SHOWN,
    )
    return render(
        request,
        "admin_settings.html",
        admin.language,
        status=status,
        admin=admin,
        here=here,
        here_words=scope_in_words(t, here),
        lists=lists,
        items=items,
        stored=[
            (
                t(f"setting.{r['key']}.label"),
                _scope_words(t, r["scope_kind"], r["scope_value"]),
                _value_words(t, r["key"], r["value"]),
                r["updated_by"],
            )
            for r in stored
        ],
        audit=[
            (
                a["at"],
                a["actor"],
                t(f"setting.{a['key']}.label"),
                _scope_words(t, a["scope_kind"], a["scope_value"]),
                _value_words(t, a["key"], a["old"]),
                _value_words(t, a["key"], a["new"]),
            )
            for a in audit
        ],
        notice=notice,
        preview=preview,
        **csrf_fields(admin),
    )


def _scope_words(t: Any, kind: str, value: str | None) -> str:
    try:
        return scope_in_words(t, PageScope(Scope(kind), value or None))
    except ValueError:
        return f"{kind} {value or ''}".strip()


def _value_words(t: Any, key: str, stored: str | None) -> str:
    """A stored JSON value as the page shows it; "-" for none (an audit row's creation)."""
    if stored is None:
        return "-"
    value = json.loads(stored)
    return in_words(t, key, value) if key in CONTROLS else str(value)


def _form_text(key: str, value: Any) -> str:
    if CONTROLS[key].control is Control.SWITCH:
        return "on" if value else "off"
    return str(value)


@require_admin
async def settings_page(request: web.Request, admin: Principal) -> web.StreamResponse:
    here = parse_scope(request.query.get("scope", "global")) or PageScope(Scope.GLOBAL, None)
    return await _page(request, admin, here)


@require_admin
async def change_setting(request: web.Request, admin: Principal) -> web.StreamResponse:
    form = await request.post()
    key = str(form.get("key", ""))[:64]
    text = str(form.get("value", ""))[:200]
    action = str(form.get("action", "save"))
    here = parse_scope(str(form.get("scope", ""))[:100])
    if key not in SETTING_KEYS or here is None or action not in ("save", "preview", "clear"):
        raise web.HTTPBadRequest(text="unknown setting, scope or action")
    t = translator(admin.language)
    label = t(f"setting.{key}.label")
    if action == "clear":
        await clear_setting(request.app[keys.POOL], scope=here.scope, scope_value=here.value,
                            key=key, actor=f"admin:{admin.name}")  # fmt: skip
        return await _page(request, admin, here, notice=t("settings.cleared", setting=label))
    try:
        value = validate_setting(key, read_typed(key, text))
    except InvalidSetting as error:
        return await _page(request, admin, here, status=422, refused=(key, str(error)),
                           typed=(key, text))  # fmt: skip
    if action == "preview":
        preview = await _preview(request, t, here, key, value)
        return await _page(request, admin, here, typed=(key, text), preview=preview)
    try:
        await apply_change(request, admin, key, here.scope, here.value, value)
    except InvalidField as refused:
        return await _page(request, admin, here, status=422, refused=(key, refused.message),
                           typed=(key, text))  # fmt: skip
    notice = t("settings.saved_in_words", setting=label, value=in_words(t, key, value),
               scope=scope_in_words(t, here))  # fmt: skip
    return await _page(request, admin, here, notice=notice)


async def _preview(
    request: web.Request, t: Any, here: PageScope, key: str, value: Any
) -> dict[str, Any]:
    """What the replay predicts for the change, in the admin's words; or why it cannot say."""
    words: dict[str, Any] = {
        "problem": None,
        "key": key,
        "value": _form_text(key, value),
        "title": t("settings.preview_title", setting=t(f"setting.{key}.label"),
                   value=in_words(t, key, value), scope=scope_in_words(t, here)),
    }  # fmt: skip
    database_url = request.app.get(keys.DATABASE_URL)
    if database_url is None:
        return {**words, "problem": t("settings.preview_unavailable")}
    lock = request.app[keys.REPLAY_LOCK]
    if lock.locked():
        return {**words, "problem": t("settings.preview_busy")}
    since = request.app[keys.CLOCK]() - timedelta(days=PREVIEW_DAYS)
    async with lock:
        report = await run_replay_in_processes(
            database_url, [ScopedValue(here.scope, here.value, key, value)], since=since
        )
    if not report.calls:
        return {**words, "problem": t("settings.preview_none", days=PREVIEW_DAYS)}
    return {
        **words,
        "period": t("settings.preview_period", calls=f"{report.calls:,}", days=PREVIEW_DAYS,
                    seconds=f"{report.seconds:.1f}"),
        "figures": figure_rows(t, report),
        "agents": per_agent(report)[:10],
    }  # fmt: skip


def setup(app: web.Application) -> None:
    app.router.add_get("/admin/settings", settings_page)
    app.router.add_post("/admin/settings", change_setting)
