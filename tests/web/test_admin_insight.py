"""Dashboard and what-if preview on a synthetic month, the charts looked at in headless Chromium."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer
from playwright.async_api import async_playwright

from devkit.synthetic_history import HistoryShape, generate_history
from sticky_router.web.app import create_app
from sticky_router.web.pops.hub import PopHub
from sticky_router.web.settings import WebSettings
from testkit.chromium import CHROMIUM, CHROMIUM_ARGS
from tests.web.conftest import PASSWORDS, Browser, WebApp, free_port
from tests.web.test_admin_api import admin_csrf

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "admin"


@pytest.fixture
async def month(seeded: asyncpg.Pool) -> asyncpg.Pool:
    """A synthetic month of a 10-agent line ending today (the admin `boss` stays)."""
    start = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    shape = HistoryShape(agents=10, days=30, customers_per_agent=300, seed=11,
                         start=start - timedelta(days=30))  # fmt: skip
    await generate_history(seeded, shape, reset=True)
    return seeded


async def test_the_dashboard_charts_render_in_chromium(month: asyncpg.Pool) -> None:
    port = free_port()
    app = create_app(pool=month, settings=WebSettings(port=port), hub=PopHub())
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    async with TestClient(TestServer(app, host="127.0.0.1", port=port)), async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page(viewport={"width": 900, "height": 1400})
            errors: list[str] = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            broken: list[str] = []
            page.on("response", lambda r: broken.append(r.url) if r.status >= 400 else None)
            base = f"http://127.0.0.1:{port}"
            await page.goto(f"{base}/admin/sign-in")
            await page.fill("input[name=name]", "boss")
            await page.fill("input[name=password]", PASSWORDS["boss"])
            await page.click("button[type=submit]")
            await page.goto(f"{base}/admin/dashboard?days=30")
            summary = await page.text_content("#summary")
            assert summary is not None
            assert re.search(r"\d+ of \d+ eligible callbacks connected", summary), summary
            charts = page.locator("figure.chart svg")
            assert await charts.count() == 4
            box = await charts.first.bounding_box()
            assert box is not None
            assert box["width"] > 600
            assert box["height"] > 200
            # The share line has a point per day of the month; the load chart a bar per agent.
            assert await page.locator("figure.chart >> nth=0 >> circle").count() >= 28
            loaded = await month.fetchval(
                "SELECT count(DISTINCT target_agent_id) FROM interactions "
                "WHERE route = 'sticky' AND outcome = 'sticky' "
                "AND started_at > now() - '30 days'::interval"
            )
            assert loaded > 5
            assert await page.locator("figure.chart >> nth=3 >> rect").count() == loaded
            await page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)
            # No CSP violation, no broken resource (the browser's own favicon guess aside).
            broken = [url for url in broken if not url.endswith("/favicon.ico")]
            assert broken == []
            assert [e for e in errors if "404" not in e] == []
        finally:
            await browser.close()


async def test_the_what_if_page_replays_and_names_a_bad_field(
    month: asyncpg.Pool, database_url: str, browsers: Callable[[], Browser]
) -> None:
    port = free_port()
    app = create_app(
        pool=month, settings=WebSettings(port=port), hub=PopHub(), database_url=database_url
    )
    async with TestClient(TestServer(app, host="127.0.0.1", port=port)):
        web = WebApp(None, PopHub(), None, month, f"http://127.0.0.1:{port}")  # type: ignore[arg-type]
        boss = browsers()
        boss.base = web.origin
        assert await boss.sign_in("admin", "boss") == 303
        csrf = await admin_csrf(boss)
        post = f"{boss.base}/admin/what-if"
        headers = {"Origin": boss.base}
        refused = await boss.session.post(
            post, data={"csrf_token": csrf, "changes": "window_minutes=-5", "scope": "global"},
            headers=headers,
        )  # fmt: skip
        assert refused.status == 422
        assert "window_minutes" in await refused.text()
        shown = await boss.session.post(
            post,
            data={"csrf_token": csrf, "changes": "window_minutes=240\nbusy_wait_seconds=20",
                  "scope": "queue:support"},
            headers=headers,
        )  # fmt: skip
        html = await shown.text()
        assert shown.status == 200, html[:500]
        calls = await month.fetchval("SELECT count(*) FROM interactions")
        assert f"{calls:,} calls replayed" in html
        assert "Callbacks that could be sticky</th>" in html
        assert "Reached their agent</th>" in html
        assert "Missed: agent busy</th>" in html
