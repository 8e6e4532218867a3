"""The admin pages for people and flags: agents, classes, agents' requests, abuse flags and
blocks, over real HTTP on a real PostgreSQL (and once in Chromium)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
from aiohttp.test_utils import TestClient, TestServer
from playwright.async_api import async_playwright

from sticky_router.routing_core import IncomingCall, RoutingService, StickyDecision
from sticky_router.web.app import create_app
from sticky_router.web.pops.hub import PopHub
from sticky_router.web.settings import WebSettings
from testkit.chromium import CHROMIUM, CHROMIUM_ARGS
from tests.web.conftest import PASSWORDS, Browser, WebApp, free_port
from tests.web.test_admin_api import signed_in_admin

IVAN = "+79123456701"  # demo: last spoke with agent2, 42 minutes ago
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "admin"


async def test_an_admin_approves_a_request_on_the_page_and_the_next_call_obeys(
    web: WebApp, browsers: Callable[[], Browser]
) -> None:
    routing = RoutingService(web.pool, default_region="RU", db_budget_seconds=2.0)

    async def decide() -> object:
        call = IncomingCall(f"f-{uuid.uuid4()}", IVAN, datetime.now(UTC), "support")
        return await routing.decide(call, claim=False)

    before = await decide()
    assert isinstance(before, StickyDecision)
    assert before.target.agent.name == "agent2"
    flag_id = await web.pool.fetchval(
        "INSERT INTO do_not_pair (customer_id, agent_id, kind, reason, requested_by)"
        " SELECT p.customer_id, a.id, 'agent_request', '<script>alert(1)</script>', 'agent2'"
        " FROM phone_numbers p, agents a WHERE p.e164 = $1 AND a.name = 'agent2' RETURNING id",
        IVAN,
    )
    boss, csrf = await signed_in_admin(browsers)
    page = await boss.session.get(f"{boss.base}/admin/flags")
    html = await page.text()
    assert page.status == 200
    assert f'data-flag="{flag_id}"' in html
    assert "Ivan Petrov" in html
    assert "<script>alert(1)</script>" not in html  # the agent's text, escaped
    assert "&lt;script&gt;" in html
    assert 'href="/admin/flags"' in html  # the admin navigation

    post = f"{boss.base}/admin/flags/{flag_id}"
    headers = {"Origin": boss.base}
    no_date = await boss.session.post(
        post, data={"csrf_token": csrf, "decision": "approve", "expires_on": ""}, headers=headers
    )
    assert no_date.status == 422
    assert 'data-field="expires_on"' in await no_date.text()
    forged = await boss.session.post(
        post, data={"csrf_token": "forged", "decision": "reject"}, headers=headers
    )
    assert forged.status == 403
    until = (datetime.now(UTC) + timedelta(days=30)).date()
    approved = await boss.session.post(
        post,
        data={"csrf_token": csrf, "decision": "approve", "expires_on": until.isoformat()},
        headers=headers,
    )
    assert approved.status == 200
    assert 'id="reviewed"' in await approved.text()

    row = await web.pool.fetchrow(
        "SELECT status, reviewed_by, expires_at FROM do_not_pair WHERE id = $1", flag_id
    )
    assert row is not None
    assert (row["status"], row["reviewed_by"]) == ("approved", "admin:boss")
    assert row["expires_at"].date() == until
    audited = await web.pool.fetchval(
        "SELECT new_value::text FROM settings_audit WHERE scope_kind = 'do_not_pair'"
        " AND scope_value = $1 AND actor = 'admin:boss'",
        str(flag_id),
    )
    assert audited == '"approved"'
    after = await decide()
    assert not (isinstance(after, StickyDecision) and after.target.agent.name == "agent2")


async def test_blocks_in_force_are_listed(web: WebApp, browsers: Callable[[], Browser]) -> None:
    await web.pool.execute(
        "INSERT INTO caller_blocks (e164, reason, destination_kind, destination, set_by,"
        " expires_at) VALUES ('+79990001122', 'threats', 'queue', 'supervisors', 'admin:boss',"
        " now() + interval '1 day'),"
        " ('+79990003344', 'old', 'queue', 'supervisors', 'admin:boss', now() - interval '1 day')"
    )
    boss, _ = await signed_in_admin(browsers)
    html = await (await boss.session.get(f"{boss.base}/admin/flags")).text()
    assert "+79990001122" in html
    assert "+79990003344" not in html  # expired: not in force


async def test_the_review_page_works_in_chromium(seeded: asyncpg.Pool) -> None:
    """Approve a pending request through the page's form in a real browser; the screenshot is
    in artifacts/admin/flags.png."""
    flag_id = await seeded.fetchval(
        "INSERT INTO do_not_pair (customer_id, agent_id, kind, reason, requested_by)"
        " SELECT p.customer_id, a.id, 'abuse', 'insults', 'agent1'"
        " FROM phone_numbers p, agents a WHERE p.e164 = $1 AND a.name = 'agent1' RETURNING id",
        IVAN,
    )
    port = free_port()
    app = create_app(pool=seeded, settings=WebSettings(port=port), hub=PopHub())
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    async with TestClient(TestServer(app, host="127.0.0.1", port=port)), async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page(viewport={"width": 1100, "height": 800})
            base = f"http://127.0.0.1:{port}"
            await page.goto(f"{base}/admin/sign-in")
            await page.fill("input[name=name]", "boss")
            await page.fill("input[name=password]", PASSWORDS["boss"])
            await page.click("button[type=submit]")
            await page.click("nav.admin-nav >> text=Requests, flags and blocks")
            row = page.locator(f'tr[data-flag="{flag_id}"]')
            assert "Ivan Petrov" in (await row.text_content() or "")
            await page.screenshot(path=str(ARTIFACTS / "flags.png"), full_page=True)
            await row.locator("button", has_text="Approve").click()
            assert "Approved" in (await page.text_content("#reviewed") or "")
            # The people page: agent3 made a specialist through its row's form.
            await page.click("nav.admin-nav >> text=Agents and classes")
            agent3 = page.locator('tr[data-agent="agent3"]')
            await agent3.locator("select[name=role]").select_option("specialist")
            await agent3.locator("button").click()
            assert "agent3" in (await page.text_content("#saved") or "")
            await page.screenshot(path=str(ARTIFACTS / "people.png"), full_page=True)
        finally:
            await browser.close()
    status = await seeded.fetchval("SELECT status FROM do_not_pair WHERE id = $1", flag_id)
    assert status == "approved"
    role = await seeded.fetchval("SELECT role FROM agents WHERE name = 'agent3'")
    assert role == "specialist"


async def test_agents_and_classes_are_changed_on_the_people_page(
    web: WebApp, browsers: Callable[[], Browser]
) -> None:
    routing = RoutingService(web.pool, default_region="RU", db_budget_seconds=2.0)
    boss, csrf = await signed_in_admin(browsers)
    html = await (await boss.session.get(f"{boss.base}/admin/people")).text()
    assert 'data-agent="agent2"' in html
    headers = {"Origin": boss.base}
    post = f"{boss.base}/admin/people/agents/agent2"
    bad = await boss.session.post(
        post, data={"csrf_token": csrf, "endpoint": "no slash", "role": "first_line",
                    "active": "on"}, headers=headers,
    )  # fmt: skip
    assert bad.status == 422
    assert 'data-field="endpoint"' in await bad.text()
    # Unticking "active": agent2 is no sticky target for Ivan's next call.
    off = await boss.session.post(
        post, data={"csrf_token": csrf, "endpoint": "PJSIP/agent2", "role": "first_line"},
        headers=headers,
    )  # fmt: skip
    assert off.status == 200
    assert await web.pool.fetchval("SELECT active FROM agents WHERE name = 'agent2'") is False
    call = IncomingCall(f"p-{uuid.uuid4()}", IVAN, datetime.now(UTC), "support")
    decision = await routing.decide(call, claim=False)
    assert not (isinstance(decision, StickyDecision) and decision.target.agent.name == "agent2")
    audited = await web.pool.fetchval(
        "SELECT count(*) FROM settings_audit WHERE scope_kind = 'agent' AND scope_value = 'agent2'"
        " AND key = 'active' AND actor = 'admin:boss'"
    )
    assert audited == 1
    added = await boss.session.post(
        f"{boss.base}/admin/people/classes",
        data={"csrf_token": csrf, "name": "gold", "description": "<b>Gold</b> plan"},
        headers=headers,
    )
    assert added.status == 200
    page = await added.text()
    assert "&lt;b&gt;Gold&lt;/b&gt; plan" in page
    again = await boss.session.post(
        f"{boss.base}/admin/people/classes",
        data={"csrf_token": csrf, "name": "gold"},
        headers=headers,
    )
    assert again.status == 422
    assert 'data-field="name"' in await again.text()


async def test_how_the_pbx_knows_an_agent_is_set_and_cleared_on_the_people_page(
    web: WebApp, browsers: Callable[[], Browser]
) -> None:
    boss, csrf = await signed_in_admin(browsers)
    headers, post = {"Origin": boss.base}, f"{boss.base}/admin/people/agents/agent2"
    form = {"csrf_token": csrf, "endpoint": "Local/102@from-queue/n", "role": "first_line",
            "active": "on", "queue_interface": "", "state_interface": "hint:102@ext-local",
            "devices": "  PJSIP/102   PJSIP/102-soft "}  # fmt: skip
    saved = await boss.session.post(post, data=form, headers=headers)
    assert saved.status == 200
    page = await saved.text()
    assert 'value="PJSIP/102 PJSIP/102-soft"' in page
    stored = await web.pool.fetchrow(
        "SELECT queue_interface, state_interface, devices FROM agents WHERE name = 'agent2'"
    )
    assert stored is not None
    assert tuple(stored) == (None, "hint:102@ext-local", ["PJSIP/102", "PJSIP/102-soft"])
    hostile = await boss.session.post(
        post, data={**form, "devices": "PJSIP/102 PJSIP/a&b"}, headers=headers
    )
    assert hostile.status == 422
    assert 'data-field="devices.1"' in await hostile.text()
    cleared = await boss.session.post(
        post, data={**form, "endpoint": "PJSIP/agent2", "state_interface": "", "devices": ""},
        headers=headers,
    )  # fmt: skip
    assert cleared.status == 200
    stored = await web.pool.fetchrow(
        "SELECT endpoint, state_interface, devices FROM agents WHERE name = 'agent2'"
    )
    assert stored is not None
    assert tuple(stored) == ("PJSIP/agent2", None, [])
