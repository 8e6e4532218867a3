"""The admin API over real HTTP on a real Postgres: rights, CSRF, validation, audit, live effect."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from aiohttp.test_utils import TestClient, TestServer

from sticky_router.process.metrics import PrometheusObserver
from sticky_router.routing_core import (
    IncomingCall,
    QueueDecision,
    QueueReason,
    RoutingService,
    StickyDecision,
)
from sticky_router.routing_core.store.recorder import CallRecorder
from sticky_router.web.app import create_app
from sticky_router.web.pops.hub import PopHub
from sticky_router.web.settings import WebSettings
from tests.web.conftest import PASSWORDS, Browser, WebApp

IVAN = "+79123456701"  # demo: last spoke with agent2, 42 minutes ago
ADMIN_PREFIXES = ("/admin/", "/api/admin/")
NOT_GUARDED = {"/admin/sign-in"}  # the sign-in page itself


async def admin_csrf(browser: Browser) -> str:
    page = await (await browser.session.get(f"{browser.base}/admin/")).text()
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, page[:300]
    return found.group(1)


async def signed_in_admin(browsers: Callable[[], Browser]) -> tuple[Browser, str]:
    boss = browsers()
    assert await boss.sign_in("admin", "boss") == 303
    return boss, await admin_csrf(boss)


async def send(
    browser: Browser, method: str, path: str, body: Any = None, csrf: str | None = None
) -> tuple[int, Any]:
    headers = {"Origin": browser.base}
    if csrf is not None:
        headers["X-CSRF-Token"] = csrf
    response = await browser.session.request(
        method, f"{browser.base}{path}", json=body, headers=headers, allow_redirects=False
    )
    text = await response.text()
    try:
        return response.status, await response.json(content_type=None)
    except ValueError:
        return response.status, text


def admin_routes(web: WebApp) -> list[tuple[str, str]]:
    """Every admin route the app has, with its path parameters filled in: routes added later are
    covered without touching this test."""
    routes = []
    for route in web.client.app.router.routes():
        info = route.resource.get_info() if route.resource else {}
        path = info.get("path") or info.get("formatter")
        if route.method == "HEAD" or not path or not path.startswith(ADMIN_PREFIXES):
            continue
        if path in NOT_GUARDED:
            continue
        routes.append((route.method, re.sub(r"\{[^}]+\}", "1", path)))
    return routes


async def test_an_agent_gets_403_on_every_admin_route(
    web: WebApp, browsers: Callable[[], Browser]
) -> None:
    routes = admin_routes(web)
    assert ("PUT", "/api/admin/settings/1") in routes
    assert ("GET", "/admin/") in routes
    agent = browsers()
    assert await agent.sign_in("agent", "agent1") == 303
    agent_csrf = await agent.csrf()
    for method, path in routes:
        status, _ = await send(agent, method, path, {"value": 1}, csrf=agent_csrf)
        assert status == 403, (method, path, status)


async def test_without_a_session_admin_routes_answer_401_or_send_to_sign_in(
    web: WebApp, browsers: Callable[[], Browser]
) -> None:
    nobody = browsers()
    for method, path in admin_routes(web):
        status, _ = await send(nobody, method, path, {"value": 1})
        # A page sends the browser to sign in; the JSON API and a websocket answer 401.
        page = method == "GET" and not path.startswith("/api/") and not path.endswith("/ws")
        expected = 303 if page else 401
        assert status == expected, (method, path, status)


async def test_a_write_without_the_csrf_token_or_from_another_origin_is_refused(
    web: WebApp, browsers: Callable[[], Browser]
) -> None:
    boss, csrf = await signed_in_admin(browsers)
    audited = await web.pool.fetchval("SELECT count(*) FROM settings_audit")
    change = {"scope": "global", "value": 30}
    status, body = await send(boss, "PUT", "/api/admin/settings/window_minutes", change)
    assert (status, body["error"]) == (403, "csrf_failed")
    foreign = await boss.session.put(
        f"{boss.base}/api/admin/settings/window_minutes",
        json=change,
        headers={"Origin": "http://evil.example", "X-CSRF-Token": csrf},
    )
    assert foreign.status == 403
    assert await web.pool.fetchval("SELECT count(*) FROM settings_audit") == audited


async def test_admin_sign_in_is_rate_limited(web: WebApp) -> None:
    statuses = [await web.sign_in("admin", "boss", "wrong-password") for _ in range(12)]
    assert 429 in statuses
    # Even the right password waits for the window to pass.
    assert await web.sign_in("admin", "boss", PASSWORDS["boss"]) == 429


async def test_a_window_changed_through_the_api_is_obeyed_by_the_next_call_and_audited(
    web: WebApp, browsers: Callable[[], Browser]
) -> None:
    routing = RoutingService(web.pool, default_region="RU", db_budget_seconds=2.0)

    async def decide() -> Any:
        call = IncomingCall(f"t-{uuid.uuid4()}", IVAN, datetime.now(UTC), "support")
        return await routing.decide(call, claim=False)

    assert isinstance(await decide(), StickyDecision)  # 42 min ago, inside 120
    boss, csrf = await signed_in_admin(browsers)
    before = await web.pool.fetchval(
        "SELECT value::text::int FROM routing_settings "
        "WHERE scope_kind = 'global' AND key = 'window_minutes'"
    )
    status, body = await send(
        boss, "PUT", "/api/admin/settings/window_minutes", {"scope": "global", "value": 30}, csrf
    )
    assert status == 200, body
    after = await decide()
    assert isinstance(after, QueueDecision)
    assert after.reason is QueueReason.WINDOW_EXPIRED

    status, in_force = await send(
        boss, "GET", "/api/admin/settings/effective?queue=support&customer_class=standard"
    )
    assert in_force["window_minutes"] == {"value": 30, "source": "global"}
    assert in_force["ring_timeout_seconds"]["source"] in ("default", "global", "queue")
    status, trail = await send(boss, "GET", "/api/admin/settings/audit?limit=5")
    newest = trail[0]
    assert (newest["actor"], newest["key"], newest["new_value"]) == (
        "admin:boss",
        "window_minutes",
        30,
    )
    assert newest["old_value"] == before
    assert newest["at"]

    status, body = await send(boss, "DELETE", "/api/admin/settings/window_minutes", csrf=csrf)
    assert (status, body["removed"]) == (200, True)
    assert isinstance(await decide(), StickyDecision)
    status, trail = await send(boss, "GET", "/api/admin/settings/audit?limit=1")
    assert (trail[0]["old_value"], trail[0]["new_value"]) == (30, None)
    if before is not None:  # put back what the demo had
        await send(boss, "PUT", "/api/admin/settings/window_minutes",
                   {"scope": "global", "value": before}, csrf)  # fmt: skip


async def test_invalid_values_are_refused_naming_the_field(
    web: WebApp, browsers: Callable[[], Browser]
) -> None:
    boss, csrf = await signed_in_admin(browsers)
    audited = await web.pool.fetchval("SELECT count(*) FROM settings_audit")
    cases = [
        ("window_minutes", {"scope": "global", "value": -5}, "window_minutes", "greater than"),
        ("ring_timeout_seconds", {"scope": "global", "value": 121}, "ring_timeout_seconds",
         "less than or equal to 120"),
        ("window_minutes", {"scope": "queue", "scope_value": "nosuch", "value": 60},
         "scope_value", "unknown queue 'nosuch'"),
        ("window_minutes", {"scope": "customer_class", "scope_value": "gold", "value": 60},
         "scope_value", "unknown customer class 'gold'"),
        ("window_minutes", {"scope": "planet", "value": 60}, "scope", "scope"),
        ("window_minutes", {"scope": "global"}, "value", "value"),
        ("windw_minutes", {"scope": "global", "value": 60}, "key", "unknown setting"),
    ]  # fmt: skip
    for key, change, field, words in cases:
        status, body = await send(boss, "PUT", f"/api/admin/settings/{key}", change, csrf)
        assert status == 422, (key, change, body)
        assert body["field"] == field, body
        assert words in body["message"], body
    # Nothing was stored, nothing audited.
    assert await web.pool.fetchval("SELECT count(*) FROM settings_audit") == audited
    status, body = await send(
        boss, "PUT", "/api/admin/settings/window_minutes",
        {"scope": "queue", "scope_value": "support", "value": 240}, csrf,
    )  # fmt: skip
    assert status == 200, body  # a queue calls were recorded in is known


async def test_flags_are_reviewed_with_an_expiry_and_the_reviewer_kept(
    web: WebApp, browsers: Callable[[], Browser]
) -> None:
    agent_id = await web.pool.fetchval("SELECT id FROM agents WHERE name = 'agent1'")
    customer = await web.pool.fetchval("SELECT min(id) FROM customers")
    ids = [
        await web.pool.fetchval(
            "INSERT INTO do_not_pair (customer_id, agent_id, kind, reason, requested_by) "
            "VALUES ($1, $2, $3, 'shouted', 'agent1') RETURNING id",
            customer,
            agent_id,
            kind,
        )
        for kind in ("agent_request", "abuse")
    ]
    boss, csrf = await signed_in_admin(browsers)
    status, listed = await send(boss, "GET", "/api/admin/flags")
    assert {r["id"] for r in listed["requests"] if r["status"] == "pending"} >= set(ids)
    past = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    status, body = await send(
        boss, "POST", f"/api/admin/flags/{ids[0]}/approve", {"expires_at": past}, csrf
    )
    assert (status, body["field"]) == (422, "expires_at")
    until = (datetime.now(UTC) + timedelta(days=30)).isoformat()
    status, _ = await send(
        boss, "POST", f"/api/admin/flags/{ids[0]}/approve", {"expires_at": until}, csrf
    )
    assert status == 200
    status, _ = await send(boss, "POST", f"/api/admin/flags/{ids[1]}/reject", None, csrf)
    assert status == 200
    rows = await web.pool.fetch(
        "SELECT status, reviewed_by, expires_at FROM do_not_pair WHERE id = ANY($1) ORDER BY id",
        ids,
    )
    assert [(r["status"], r["reviewed_by"]) for r in rows] == [
        ("approved", "admin:boss"),
        ("rejected", "admin:boss"),
    ]
    assert rows[0]["expires_at"] is not None
    status, _ = await send(boss, "POST", f"/api/admin/flags/{ids[1]}/approve", {}, csrf)
    assert status == 404  # already reviewed


async def test_the_openapi_description_covers_every_admin_api_route(web: WebApp) -> None:
    response = await web.client.get("/api/openapi.json")
    document = await response.json()
    assert document["openapi"].startswith("3.1")
    described = {
        (method.upper(), re.sub(r"\{[^}]+\}", "1", path))
        for path, operations in document["paths"].items()
        for method in operations
    }
    api_routes = {r for r in admin_routes(web) if r[1].startswith("/api/admin/")}
    assert api_routes == described
    put = document["paths"]["/api/admin/settings/{key}"]["put"]
    assert "window_minutes" in put["parameters"][0]["schema"]["enum"]


async def test_metrics_count_decisions_and_ring_outcomes(seeded: asyncpg.Pool) -> None:
    observer = PrometheusObserver()
    routing = RoutingService(seeded, default_region="RU", db_budget_seconds=2.0, observer=observer)
    recorder = CallRecorder(seeded, observer)
    call = IncomingCall(f"m-{uuid.uuid4()}", IVAN, datetime.now(UTC), "support")
    await recorder.call_started(call, IVAN)
    decision = await routing.decide(call)
    assert isinstance(decision, StickyDecision)
    await routing.decide(IncomingCall(f"m-{uuid.uuid4()}", None, call.at, "support"))
    await recorder.leg_rang(call.call_id, "leg-1", "agent2", call.at)
    await recorder.leg_ended(call.call_id, "leg-1", call.at, "NOANSWER")
    await recorder.leg_ended(call.call_id, "leg-1", call.at, "NOANSWER")  # AMI tells it again
    await routing.release(call.call_id, "test", call.at)

    app = create_app(
        pool=seeded, settings=WebSettings(port=1), hub=PopHub(), metrics=observer.exposition
    )
    async with TestClient(TestServer(app)) as client:
        response = await client.get("/metrics")
        text = await response.text()
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/plain")
    calls = 'sticky_router_calls_total{queue="support",'
    assert calls + 'reason="last_agent",route="sticky"} 1.0' in text
    assert calls + 'reason="no_caller_key",route="queue"} 1.0' in text
    assert "sticky_router_decision_seconds_count 2.0" in text
    assert 'sticky_router_ring_attempts_total{outcome="noanswer"} 1.0' in text
    assert IVAN not in text
    assert "Ivan" not in text


async def test_agents_and_classes_are_managed_and_audited(
    web: WebApp, browsers: Callable[[], Browser]
) -> None:
    boss, csrf = await signed_in_admin(browsers)
    status, agents = await send(boss, "GET", "/api/admin/agents")
    assert status == 200
    assert {"agent1", "agent2"} <= {a["name"] for a in agents}
    status, body = await send(boss, "PATCH", "/api/admin/agents/agent2", {"active": False}, csrf)
    assert status == 200, body
    # The next decision no longer offers agent2 to Ivan.
    routing = RoutingService(web.pool, default_region="RU", db_budget_seconds=2.0)
    call = IncomingCall(f"a-{uuid.uuid4()}", IVAN, datetime.now(UTC), "support")
    decision = await routing.decide(call, claim=False)
    assert isinstance(decision, QueueDecision)
    assert decision.reason is QueueReason.AGENT_INACTIVE
    status, body = await send(boss, "PATCH", "/api/admin/agents/agent2", {"role": "boss"}, csrf)
    assert (status, body["field"]) == (422, "role")
    status, body = await send(
        boss, "PATCH", "/api/admin/agents/agent2", {"endpoint": "PJSIP/agent1"}, csrf
    )
    assert (status, body["field"]) == (422, "endpoint")
    # Dial() would ring a second destination (&), take options (,) or evaluate an expression.
    for hostile in ("PJSIP/agent2&PJSIP/9001", "PJSIP/agent2,30,D(1)", "PJSIP/${EXTEN}"):
        status, body = await send(
            boss, "PATCH", "/api/admin/agents/agent2", {"endpoint": hostile}, csrf
        )
        assert (status, body["field"]) == (422, "endpoint"), hostile
    stored = await web.pool.fetchval("SELECT endpoint FROM agents WHERE name = 'agent2'")
    assert stored == "PJSIP/agent2"
    status, _ = await send(boss, "PATCH", "/api/admin/agents/nobody", {"active": True}, csrf)
    assert status == 404
    status, body = await send(boss, "POST", "/api/admin/classes", {"name": "gold"}, csrf)
    assert status == 201, body
    status, body = await send(boss, "POST", "/api/admin/classes", {"name": "Gold!"}, csrf)
    assert (status, body["field"]) == (422, "name")
    status, classes = await send(boss, "GET", "/api/admin/classes")
    assert "gold" in {c["name"] for c in classes}
    trail = await web.pool.fetch(
        "SELECT actor, scope_kind, scope_value, key, old_value::text AS old,"
        " new_value::text AS new FROM settings_audit ORDER BY id DESC LIMIT 2"
    )
    assert [tuple(r) for r in trail] == [
        ("admin:boss", "customer_class", "gold", "created", None, '""'),
        ("admin:boss", "agent", "agent2", "active", "true", "false"),
    ]


async def test_how_the_pbx_knows_an_agent_is_set_checked_cleared_and_audited(
    web: WebApp, browsers: Callable[[], Browser]
) -> None:
    """A FreePBX line's agent (docs/pbx-flavours.md): the Local channel to dial, the hint, the
    phones behind it. Each value reaches a dialplan function or Dial(): anything else is
    refused naming the field, and nothing is stored."""
    boss, csrf = await signed_in_admin(browsers)
    freepbx = {
        "endpoint": "Local/102@from-queue/n", "state_interface": "hint:102@ext-local",
        "devices": ["PJSIP/102", "PJSIP/102-soft"],
    }  # fmt: skip
    status, body = await send(boss, "PATCH", "/api/admin/agents/agent2", freepbx, csrf)
    assert status == 200, body
    status, agents = await send(boss, "GET", "/api/admin/agents")
    [agent2] = [a for a in agents if a["name"] == "agent2"]
    assert {k: agent2[k] for k in (*freepbx, "queue_interface")} == {
        **freepbx,
        "queue_interface": None,
    }
    hostile = [
        ("state_interface", "hint:102@ext-local,x"), ("state_interface", "hint:${EXTEN}@x"),
        ("state_interface", "PJSIP/a&PJSIP/b"), ("queue_interface", "Local/1@x/n&PJSIP/9"),
        ("devices", ["PJSIP/102", "PJSIP/a(b)"]), ("devices", [f"PJSIP/{n}" for n in range(9)]),
    ]  # fmt: skip
    for field, value in hostile:
        status, body = await send(boss, "PATCH", "/api/admin/agents/agent2", {field: value}, csrf)
        # The field named: devices.1 for the second phone.
        assert (status, body["field"].split(".")[0]) == (422, field), value
    stored = await web.pool.fetchrow(
        "SELECT state_interface, devices FROM agents WHERE name = 'agent2'"
    )
    assert stored is not None
    assert (stored["state_interface"], stored["devices"]) == (
        "hint:102@ext-local",
        freepbx["devices"],
    )
    # Back to a plain Asterisk: "" and [] clear, the endpoint is all again.
    back = {"endpoint": "PJSIP/agent2", "state_interface": "", "devices": []}
    status, body = await send(boss, "PATCH", "/api/admin/agents/agent2", back, csrf)
    assert status == 200, body
    stored = await web.pool.fetchrow(
        "SELECT endpoint, state_interface, devices FROM agents WHERE name = 'agent2'"
    )
    assert stored is not None
    assert tuple(stored) == ("PJSIP/agent2", None, [])
    trail = await web.pool.fetch(
        "SELECT key, old_value::text AS old, new_value::text AS new FROM settings_audit"
        " WHERE scope_kind = 'agent' AND scope_value = 'agent2' ORDER BY id"
    )
    assert [tuple(r) for r in trail][-3:] == [
        ("endpoint", '"Local/102@from-queue/n"', '"PJSIP/agent2"'),
        ("state_interface", '"hint:102@ext-local"', None),
        ("devices", '["PJSIP/102", "PJSIP/102-soft"]', "[]"),
    ]
