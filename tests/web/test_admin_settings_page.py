"""The settings page in words over real HTTP on PostgreSQL (issue 22): each setting's label,
explanation, unit, range and control; scopes picked from the line's own queues, numbers and
classes; refusals on the setting's own row; a preview that saves nothing; Russian."""

from __future__ import annotations

import html
import re
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import asyncpg

from sticky_router.routing_core import (
    IncomingCall,
    QueueDecision,
    QueueReason,
    RoutingService,
    StickyDecision,
)
from sticky_router.routing_core.settings import SETTING_KEYS
from tests.web.conftest import Browser, WebApp
from tests.web.test_admin_api import admin_csrf, signed_in_admin
from tests.web.test_admin_insight import month  # noqa: F401 - fixture

IVAN = "+79123456701"  # demo: last spoke with agent2 42 minutes ago, queue support

Post = Callable[..., Awaitable[tuple[int, str]]]


def poster(boss: Browser, csrf: str) -> Post:
    async def post(key: str, value: str, scope: str = "global", action: str = "save",
                   token: str | None = None) -> tuple[int, str]:  # fmt: skip
        response = await boss.session.post(
            f"{boss.base}/admin/settings",
            data={"csrf_token": token or csrf, "key": key, "value": value, "scope": scope,
                  "action": action},
            headers={"Origin": boss.base},
        )  # fmt: skip
        return response.status, html.unescape(await response.text())

    return post


async def page(boss: Browser, scope: str = "global") -> str:
    response = await boss.session.get(f"{boss.base}/admin/settings", params={"scope": scope})
    assert response.status == 200
    return html.unescape(await response.text())


def card(text: str, key: str) -> str:
    """One setting's form on the page."""
    found = re.search(rf'<form[^>]*id="setting-{key}".*?</form>', text, re.S)
    assert found, f"no card for {key}"
    return found.group(0)


async def admin_of(web: WebApp, browsers: Callable[[], Browser]) -> tuple[Browser, str]:
    """The boss signed in to `web` (an app made here, not the `web` fixture's)."""
    boss = browsers()
    boss.base = web.origin
    assert await boss.sign_in("admin", "boss") == 303
    return boss, await admin_csrf(boss)


def words(fragment: str) -> str:
    """What a reader sees: the text without tags, spaces collapsed."""
    return " ".join(re.sub(r"<[^>]+>", " ", fragment).split()).replace("( ", "(").replace(" )", ")")


async def decide(pool: asyncpg.Pool, queue: str) -> object:
    routing = RoutingService(pool, default_region="RU", db_budget_seconds=2.0)
    return await routing.decide(
        IncomingCall(f"s-{uuid.uuid4()}", IVAN, datetime.now(UTC), queue), claim=False
    )


async def test_every_setting_is_shown_in_words_with_the_control_its_kind_needs(
    web: WebApp, browsers: Callable[[], Browser]
) -> None:
    boss, _ = await signed_in_admin(browsers)
    text = await page(boss)
    for key in SETTING_KEYS:
        assert f'id="setting-{key}"' in text, key
        assert f"setting.{key}." not in text, f"{key} has no words"
    window = card(text, "window_minutes")
    assert "<label" in window
    assert "Window" in window
    assert "How long after the end of the last conversation" in window
    assert "(from 0 to 43200 minutes)" in window
    assert re.search(r'type="number"[^>]*value="120"[^>]*min="0"[^>]*max="43200"', window)
    assert "In force: 120 minutes (set here)" in words(window)  # the demo sets it globally
    assert "In force: 120 minutes (set for every call)" in words(
        card(await page(boss, "queue:support"), "window_minutes")
    )
    enabled = card(text, "enabled")
    assert re.search(r'type="radio" name="value" value="on" checked', enabled)
    assert re.search(r'type="radio" name="value" value="off">', enabled)
    precedence = card(text, "target_precedence")
    assert '<option value="last_agent" selected>The last agent only</option>' in precedence
    assert "The ticket's owner, then the last agent" in precedence
    assert "(built-in default)" in precedence
    # No value is shown as the code's JSON: no quoted identifiers.
    assert '"' not in " ".join(re.findall(r'class="value">([^<]*)<', text))
    escalation = card(text, "escalation_queue")
    assert '<option value="" selected>(this same queue)</option>' in escalation
    assert '<option value="support">support</option>' in escalation


async def test_scopes_are_chosen_from_the_lines_queues_numbers_and_classes(
    web: WebApp, browsers: Callable[[], Browser]
) -> None:
    boss, _ = await signed_in_admin(browsers)
    text = await page(boss)
    picker = re.search(r'<form method="get"[^>]*id="pick-scope".*?</form>', text, re.S)
    assert picker
    offered = set(re.findall(r'<option value="([^"]+)"', picker.group(0)))
    dids = {r["did"] for r in await web.pool.fetch("SELECT DISTINCT did FROM interactions "
                                                   "WHERE did IS NOT NULL")}  # fmt: skip
    classes = {r["name"] for r in await web.pool.fetch("SELECT name FROM customer_classes")}
    assert dids
    assert classes
    assert offered == (
        {"global", "queue:support"} | {f"did:{d}" for d in dids}
        | {f"customer_class:{c}" for c in classes}
    )  # fmt: skip
    vip = await page(boss, "customer_class:vip")
    assert "Settings for: class vip" in words(vip)
    window = card(vip, "window_minutes")
    assert "In force: 240 minutes (set here)" in words(window)
    assert 'value="clear"' in window  # a value set here can be given back to the wider scope
    assert 'value="clear"' not in card(vip, "ring_timeout_seconds")
    # An unknown or malformed scope falls back to every call rather than failing.
    assert "Settings for: every call" in words(await page(boss, "queue:"))


async def test_a_window_saved_for_one_queue_is_obeyed_there_only_cleared_and_audited(
    web: WebApp, browsers: Callable[[], Browser]
) -> None:
    boss, csrf = await signed_in_admin(browsers)
    post = poster(boss, csrf)
    status, text = await post("window_minutes", "30", "queue:support")
    assert status == 200, text[:300]
    assert "Saved: Window = 30 minutes for queue support. In force from the next call." in text
    assert "In force: 30 minutes (set here)" in words(card(text, "window_minutes"))
    support = await decide(web.pool, "support")
    assert isinstance(support, QueueDecision)
    assert support.reason is QueueReason.WINDOW_EXPIRED
    assert isinstance(await decide(web.pool, "sales"), StickyDecision)  # 120 min elsewhere
    audited = await web.pool.fetchrow(
        "SELECT actor, scope_kind, scope_value, new_value::text AS new FROM settings_audit "
        "ORDER BY id DESC LIMIT 1"
    )
    assert audited is not None
    assert tuple(audited) == ("admin:boss", "queue", "support", "30")
    trail = re.search(r'<table id="audit">.*?</table>', text, re.S)
    assert trail
    assert "admin:boss Window queue support - 30 minutes" in words(trail.group(0))

    status, text = await post("window_minutes", "", "queue:support", action="clear")
    assert status == 200
    assert "Cleared: Window now comes from the wider scope." in text
    assert "In force: 120 minutes (set for every call)" in words(card(text, "window_minutes"))
    assert isinstance(await decide(web.pool, "support"), StickyDecision)
    # A switch and a choice are saved from their own controls' values.
    status, text = await post("target_precedence", "owner_first", "queue:support")
    assert status == 200
    assert "In force: The ticket's owner, then the last agent (set here)" in words(
        card(text, "target_precedence")
    )
    status, text = await post("announce", "off", "queue:support")
    assert status == 200
    assert "In force: Off (set here)" in words(card(text, "announce"))


async def test_refusals_are_shown_on_the_settings_own_row_keeping_what_was_typed(
    web: WebApp, browsers: Callable[[], Browser]
) -> None:
    boss, csrf = await signed_in_admin(browsers)
    post = poster(boss, csrf)
    stored = await web.pool.fetchval("SELECT count(*) FROM settings_audit")
    cases = [
        ("window_minutes", "-5", "global", "greater than or equal to 0"),
        ("window_minutes", "50000", "global", "less than or equal to 43200"),
        ("window_minutes", "2 hours", "global", "a whole number is needed"),
        ("enabled", "maybe", "global", "on or off"),
        ("target_precedence", "whoever", "global", "Input should be"),
        # A sound name is handed to Playback(): `)` or `|` would end it and run another app.
        ("announce_sound", "x)|System(id)", "global", "should match pattern"),
        ("escalation_queue", "second,t,,,5", "global", "should match pattern"),
        ("window_minutes", "60", "queue:nosuch", "unknown queue 'nosuch'"),
        ("window_minutes", "60", "did:7495abc", "a dialled number is digits"),
    ]
    for key, value, scope, why in cases:
        status, text = await post(key, value, scope)
        assert status == 422, (key, value)
        row = card(text, key)
        refusal = re.search(rf'id="refused-{key}" data-field="{key}">Not saved: ([^<]*)<', row)
        assert refusal, (key, value, row[-600:])
        assert why in refusal.group(1), (key, value, refusal.group(1))
        if key in ("window_minutes", "announce_sound"):  # typed, not picked
            assert f'name="value" value="{value}"' in row, "what the admin typed is kept"
        assert "refused-" not in card(text, "ring_timeout_seconds")
    for form in ({"scope": "nowhere"}, {"key": "no_such_setting"}, {"action": "explode"}):
        response = await boss.session.post(
            f"{boss.base}/admin/settings",
            data={"csrf_token": csrf, "key": "window_minutes", "value": "60", "scope": "global",
                  "action": "save", **form},
            headers={"Origin": boss.base},
        )  # fmt: skip
        assert response.status == 400, form
    status, _ = await post("window_minutes", "60", token="forged")
    assert status == 403
    assert await web.pool.fetchval("SELECT count(*) FROM settings_audit") == stored


async def test_a_russian_speaking_supervisor_reads_the_settings_in_russian(
    web: WebApp, browsers: Callable[[], Browser]
) -> None:
    await web.pool.execute("UPDATE admin_users SET language = 'ru' WHERE name = 'boss'")
    boss, csrf = await signed_in_admin(browsers)
    text = await page(boss)
    window = card(text, "window_minutes")
    assert "Окно" in window
    assert "(от 0 до 43200 мин)" in window
    assert "Действует: 120 мин (задано здесь)" in words(window)
    assert "Вернуть встроенное значение" in window
    assert "Действует: 120 мин (задано для всех звонков)" in words(
        card(await page(boss, "queue:support"), "window_minutes")
    )
    assert "Только последний оператор" in card(text, "target_precedence")
    status, text = await poster(boss, csrf)("window_minutes", "-1")
    assert status == 422
    assert "Не сохранено:" in card(text, "window_minutes")


async def test_the_sound_picker_lists_the_prompts_asterisk_has(
    make_web: Callable[..., Awaitable[WebApp]], browsers: Callable[[], Browser]
) -> None:
    async def prompts() -> list[str]:
        return ["tt-monkeys", "custom/welcome-back", "beep"]

    boss, _ = await admin_of(await make_web(prompts=prompts), browsers)
    sound = card(await page(boss), "announce_sound")
    offered = re.findall(r'<option value="([^"]+)"( selected)?>([^<]*)<', sound)
    assert [value for value, _, _ in offered] == [
        "sticky-router/connecting-to-your-agent", "beep", "custom/welcome-back", "tt-monkeys",
    ]  # fmt: skip
    assert offered[0][1:] == (
        " selected",
        "sticky-router/connecting-to-your-agent (not found on Asterisk)",
    )


async def test_without_the_prompt_list_the_sound_is_typed(
    make_web: Callable[..., Awaitable[WebApp]], browsers: Callable[[], Browser]
) -> None:
    async def prompts() -> list[str]:
        raise ConnectionError("ARI is down")

    boss, _ = await admin_of(await make_web(prompts=prompts), browsers)
    sound = card(await page(boss), "announce_sound")
    assert "<select" not in sound
    assert "type the sound's name" in sound
    assert 'name="value" value="sticky-router/connecting-to-your-agent"' in sound


async def test_the_preview_predicts_the_change_on_recorded_calls_and_saves_nothing(
    month: asyncpg.Pool,  # noqa: F811
    database_url: str,
    make_web: Callable[..., Awaitable[WebApp]],
    browsers: Callable[[], Browser],
) -> None:
    boss, csrf = await admin_of(await make_web(database_url=database_url), browsers)
    before = await month.fetch("SELECT * FROM routing_settings ORDER BY key, scope_kind")
    audited = await month.fetchval("SELECT count(*) FROM settings_audit")
    in_28_days = "SELECT count(*) FROM interactions WHERE started_at >= now() - interval '28 days'"
    # The 28 days slide while the replay runs: a call may leave them between two counts.
    recent_before = await month.fetchval(in_28_days)
    status, text = await poster(boss, csrf)("window_minutes", "5", "queue:support", "preview")
    assert status == 200, text[:500]
    preview = re.search(r'<section class="preview".*?</section>', text, re.S)
    assert preview, text[:2000]
    shown = preview.group(0)
    assert "Predicted effect of Window = 5 minutes for queue support" in shown
    recent_after = await month.fetchval(in_28_days)
    replayed = re.search(r"Replayed ([\d,]+) recorded calls of the last 28 days", shown)
    assert replayed, shown
    assert recent_after <= int(replayed.group(1).replace(",", "")) <= recent_before
    reached = re.search(r"Reached their agent</th><td>([\d,]+)</td><td>([\d,]+)<", shown)
    assert reached, shown
    now, then = (int(reached.group(i).replace(",", "")) for i in (1, 2))
    assert 0 < then < now, (now, then)  # five minutes catches far fewer callbacks
    assert re.search(r"Share reaching their agent</th><td>[\d.]+%</td><td>[\d.]+%", shown)
    assert "Missed: window expired" in shown
    assert re.search(r'<table id="preview-load">.*<td>agent\d+</td>', shown, re.S)
    assert 'name="value" value="5"' in shown  # "Save this value" carries it
    assert await month.fetch("SELECT * FROM routing_settings ORDER BY key, scope_kind") == before
    assert await month.fetchval("SELECT count(*) FROM settings_audit") == audited


async def test_an_admin_chooses_the_language_of_their_own_pages(
    web: WebApp, browsers: Callable[[], Browser]
) -> None:
    boss, csrf = await signed_in_admin(browsers)

    async def choose(language: str, back: str, token: str = csrf) -> tuple[int, str]:
        response = await boss.session.post(
            f"{boss.base}/admin/language",
            data={"csrf_token": token, "language": language, "back": back},
            headers={"Origin": boss.base},
            allow_redirects=False,
        )
        return response.status, response.headers.get("Location", "")

    assert await choose("ru", "/admin/settings?scope=queue:support") == (
        303, "/admin/settings?scope=queue:support",
    )  # fmt: skip
    assert "Действует: 120 мин" in words(await page(boss, "queue:support"))
    assert await web.pool.fetchval("SELECT language FROM admin_users WHERE name = 'boss'") == "ru"
    # Only a path of the admin pages is a way back: never another site.
    for hostile in ("https://evil.example/admin/", "//evil.example/admin/", "/admin/\\\\evil"):
        assert await choose("en", hostile) == (303, "/admin/")
    assert "In force: 120 minutes" in words(await page(boss, "queue:support"))
    assert (await choose("de", "/admin/"))[0] == 400
    assert (await choose("ru", "/admin/", token="forged"))[0] == 403
    assert await web.pool.fetchval("SELECT language FROM admin_users WHERE name = 'boss'") == "en"


async def test_a_queue_asterisk_reports_can_be_tuned_before_its_first_call(
    make_web: Callable[..., Awaitable[WebApp]], browsers: Callable[[], Browser]
) -> None:
    """A new queue has no recorded call yet; the router knows it from Asterisk's own queue list
    (AMI's QueueStatus), so a supervisor can set its window before the first caller."""
    no_ami, _ = await admin_of(await make_web(), browsers)
    status, text = await poster(no_ami, await admin_csrf(no_ami))(
        "window_minutes", "60", "queue:vip-line"
    )
    assert status == 422
    assert "unknown queue 'vip-line'" in card(text, "window_minutes")

    boss, csrf = await admin_of(await make_web(queue_names=lambda: {"vip-line"}), browsers)
    assert 'value="queue:vip-line"' in await page(boss)
    status, text = await poster(boss, csrf)("window_minutes", "60", "queue:vip-line")
    assert status == 200, card(text, "window_minutes")
    assert "In force: 60 minutes (set here)" in words(card(text, "window_minutes"))
