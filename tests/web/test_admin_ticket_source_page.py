"""The ticket source's health page over real HTTP on a real PostgreSQL: the rows are written into
ticket_source_state (and the mirror and call reports) by the test, the page is read as HTML."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime, timedelta

import aiohttp
import asyncpg
import pytest

from sticky_router.routing_core.model import CallerKey
from sticky_router.routing_core.ticket_details import LiveTicketDetails
from sticky_router.routing_core.tickets import CallReport, TicketChange, TicketLookup
from tests.web.conftest import Browser, WebApp
from tests.web.test_admin_api import signed_in_admin

PAGE = "/admin/ticket-source"


class ConfiguredSource:
    """The source the router process runs, as the page sees it: a name (it never asks it)."""

    def __init__(self, name: str) -> None:
        self.name = name

    async def lookup(self, key: CallerKey) -> TicketLookup:
        raise AssertionError("the health page never asks the source")

    async def changes_since(self, since: datetime | None) -> list[TicketChange]:
        raise AssertionError("the health page never asks the source")

    async def record_call(self, report: CallReport) -> None:
        raise AssertionError("the health page never asks the source")


@pytest.fixture
async def web(make_web: Callable[..., Awaitable[WebApp]]) -> WebApp:
    """The pages of a router that runs the HTTP ticket source."""
    return await make_web(ticket_details=LiveTicketDetails(ConfiguredSource("http")))


@pytest.fixture(autouse=True)
async def no_source_rows(seeded: asyncpg.Pool) -> AsyncIterator[None]:
    """Each test writes the rows it shows; none is left for the next test."""
    clear = "TRUNCATE ticket_mirror, ticket_source_state, ticket_call_reports"
    await seeded.execute(clear)
    yield
    await seeded.execute(clear)


async def add_source(
    pool: asyncpg.Pool,
    source: str,
    *,
    last_sync_at: datetime | None = None,
    last_full_sync_at: datetime | None = None,
    newest_update: datetime | None = None,
    last_error: str | None = None,
    last_error_at: datetime | None = None,
    failures_in_a_row: int = 0,
) -> None:
    await pool.execute(
        "INSERT INTO ticket_source_state (source, last_sync_at, last_full_sync_at,"
        " newest_update, last_error, last_error_at, failures_in_a_row)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7)",
        source, last_sync_at, last_full_sync_at, newest_update, last_error, last_error_at,
        failures_in_a_row,
    )  # fmt: skip


async def add_mirrored_tickets(pool: asyncpg.Pool, source: str, count: int, at: datetime) -> None:
    await pool.executemany(
        "INSERT INTO ticket_mirror (source, external_id, customer_ref, status, subject,"
        " updated_at, synced_at) VALUES ($1, $2, 'crm-1', 'open', 'No internet', $3, $3)",
        [(source, f"CRM-{n}", at) for n in range(count)],
    )


async def add_call_reports(pool: asyncpg.Pool, source: str, statuses: list[str]) -> None:
    """One report per demo call, with the given statuses."""
    calls = await pool.fetch(
        "SELECT call_id FROM interactions ORDER BY call_id LIMIT $1", len(statuses)
    )
    assert len(calls) == len(statuses)
    await pool.executemany(
        "INSERT INTO ticket_call_reports (call_id, source, status) VALUES ($1, $2, $3)",
        [(call["call_id"], source, status) for call, status in zip(calls, statuses, strict=True)],
    )


async def admin_page(browsers: Callable[[], Browser]) -> str:
    boss, _ = await signed_in_admin(browsers)
    response = await boss.session.get(f"{boss.base}{PAGE}", allow_redirects=False)
    assert response.status == 200
    return await response.text()


def state_of(page: str, source: str | None = None) -> tuple[str, str]:
    """(data-state, the state line's text) of one source's section, or of the built-in line."""
    if source is not None:
        section = page.split(f'data-source="{source}"', 1)[1].split("</section>", 1)[0]
    else:
        section = page
    found = re.search(r'class="source-state"[^>]*data-state="([a-z_]+)"[^>]*>([^<]*)<', section)
    assert found, section[:500]
    return found.group(1), html.unescape(found.group(2))


def fact(page: str, source: str, name: str) -> str:
    section = page.split(f'data-source="{source}"', 1)[1].split("</section>", 1)[0]
    found = re.search(rf'<tr data-fact="{name}"><th>[^<]*</th><td>([^<]*)</td>', section)
    assert found, f"{name} not in {section[:500]}"
    return html.unescape(found.group(1))


def shown(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")


async def test_a_healthy_source_shows_its_sync_times_and_counts(
    web: WebApp, browsers: Callable[[], Browser]
) -> None:
    now = web.clock.now
    last_sync, last_full = now - timedelta(minutes=2), now - timedelta(minutes=50)
    newest = now - timedelta(hours=3, minutes=5)
    await add_source(
        web.pool, "http", last_sync_at=last_sync, last_full_sync_at=last_full,
        newest_update=newest, last_error="timeout: tickets: no answer in time",
        last_error_at=now - timedelta(days=3), failures_in_a_row=0,
    )  # fmt: skip
    await add_mirrored_tickets(web.pool, "http", 3, newest)
    await add_call_reports(web.pool, "http", ["pending", "pending", "failed", "sent"])

    page = await admin_page(browsers)

    assert state_of(page, "http") == (
        "healthy",
        f"Healthy: last sync {shown(last_sync)} (2 min ago).",
    )
    assert 'id="builtin"' not in page
    assert fact(page, "http", "last-sync") == f"{shown(last_sync)} (2 min ago)"
    assert fact(page, "http", "last-full-sync") == f"{shown(last_full)} (50 min ago)"
    assert fact(page, "http", "newest-update") == f"{shown(newest)} (3 h 5 min ago)"
    assert fact(page, "http", "open-tickets") == "3"
    assert fact(page, "http", "failures") == "0"
    # An old error stays visible after the source recovered, with its time.
    assert fact(page, "http", "last-error").startswith("timeout: tickets: no answer in time — ")
    assert fact(page, "http", "reports-pending") == "2"
    assert fact(page, "http", "reports-given-up") == "1"
    assert f'href="{PAGE}"' in page  # in the admin navigation


async def test_a_failing_source_says_since_when_and_what_failed(
    web: WebApp, browsers: Callable[[], Browser]
) -> None:
    now = web.clock.now
    last_good = now - timedelta(hours=3)
    await add_source(
        web.pool, "http", last_sync_at=last_good, last_full_sync_at=last_good,
        newest_update=last_good, last_error="unavailable: tickets: HTTP 503",
        last_error_at=now - timedelta(seconds=30), failures_in_a_row=4,
    )  # fmt: skip
    await add_source(web.pool, "redmine", last_error="refused: tickets: HTTP 401",
                     last_error_at=now - timedelta(minutes=1), failures_in_a_row=2)  # fmt: skip
    await add_source(web.pool, "rt")  # the call reporter started; no sync finished yet

    page = await admin_page(browsers)

    assert state_of(page, "http") == (
        "failing",
        f"Failing since the last good sync, {shown(last_good)} (3 h 0 min ago):"
        " 4 failures in a row.",
    )
    assert fact(page, "http", "failures") == "4"
    assert fact(page, "http", "last-error") == (
        f"unavailable: tickets: HTTP 503 — {shown(now - timedelta(seconds=30))} (moments ago)"
    )
    assert state_of(page, "redmine") == ("failing", "Failing, never synced: 2 failures in a row.")
    assert fact(page, "redmine", "last-sync") == "never"
    assert state_of(page, "rt") == ("never_synced", "Never synced: no sync has finished yet.")
    assert fact(page, "rt", "last-error") == "-"


async def test_with_the_built_in_tables_there_is_nothing_to_sync_and_old_rows_are_history(
    make_web: Callable[..., Awaitable[WebApp]],
) -> None:
    builtin = await make_web()  # a router without an external source
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
        page = await admin_page(lambda: Browser(session, builtin.origin))
        assert state_of(page) == (
            "builtin",
            "Built-in tickets: the product's own tables are used, so there is nothing to sync.",
        )
        assert "data-source=" not in page

        # The deployment went back to the built-in tables: the old source's row is history.
        await add_source(builtin.pool, "redmine", last_sync_at=builtin.clock.now)
        page = await admin_page(lambda: Browser(session, builtin.origin))
    assert state_of(page)[0] == "builtin"
    assert 'data-source="redmine" data-in-use="no"' in page
    assert "Not in use: the router now reads the product&#39;s own tables." in page


async def test_a_configured_source_that_never_ran_says_so_rather_than_built_in(
    web: WebApp, browsers: Callable[[], Browser]
) -> None:
    page = await admin_page(browsers)
    assert 'id="builtin"' not in page
    assert 'data-source="http" data-in-use="yes"' in page
    assert state_of(page, "http") == ("never_synced", "Never synced: no sync has finished yet.")
    assert fact(page, "http", "last-sync") == "never"
    # A row another source left behind is marked; the configured one is not.
    await add_source(web.pool, "crm", last_sync_at=web.clock.now)
    page = await admin_page(browsers)
    assert 'data-source="crm" data-in-use="no"' in page
    assert "Not in use: the router now reads http." in page


async def test_the_page_speaks_russian_to_a_russian_admin(
    web: WebApp, browsers: Callable[[], Browser]
) -> None:
    await web.pool.execute("UPDATE admin_users SET language = 'ru' WHERE name = 'boss'")
    now = web.clock.now
    await add_source(web.pool, "http", last_sync_at=now - timedelta(minutes=7),
                     failures_in_a_row=1, last_error="timeout: tickets: no answer in time",
                     last_error_at=now)  # fmt: skip
    page = await admin_page(browsers)
    state, line = state_of(page, "http")
    assert state == "failing"
    assert line.startswith("Сбои после последней удачной синхронизации")
    assert "(7 мин назад): ошибок подряд: 1." in line
    assert fact(page, "http", "reports-pending") == "0"


async def test_the_last_error_is_escaped(web: WebApp, browsers: Callable[[], Browser]) -> None:
    now = web.clock.now
    await add_source(
        web.pool, "http", last_sync_at=now - timedelta(hours=1), failures_in_a_row=1,
        last_error='invalid: <script>alert("x")</script>', last_error_at=now,
    )  # fmt: skip
    page = await admin_page(browsers)
    assert "<script>" not in page
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page
    assert fact(page, "http", "last-error").startswith('invalid: <script>alert("x")</script> — ')


async def test_an_agent_is_refused_and_a_stranger_sent_to_sign_in(
    web: WebApp, browsers: Callable[[], Browser]
) -> None:
    await add_source(web.pool, "http", last_error="secret-looking", failures_in_a_row=1)
    agent = browsers()
    assert await agent.sign_in("agent", "agent1") == 303
    refused = await agent.session.get(f"{agent.base}{PAGE}", allow_redirects=False)
    assert refused.status == 403
    assert "secret-looking" not in await refused.text()

    stranger = browsers()
    redirected = await stranger.session.get(f"{stranger.base}{PAGE}", allow_redirects=False)
    assert redirected.status == 303
    assert redirected.headers["Location"] == "/admin/sign-in"


async def test_the_api_reads_the_same_shared_query(
    web: WebApp, browsers: Callable[[], Browser]
) -> None:
    """GET /api/admin/ticket-source kept its keys when its query moved to the core."""
    now = web.clock.now
    await add_source(web.pool, "http", last_sync_at=now, failures_in_a_row=2,
                     last_error="timeout: tickets: no answer in time")  # fmt: skip
    await add_mirrored_tickets(web.pool, "http", 2, now)
    await add_call_reports(web.pool, "http", ["failed"])
    boss, _ = await signed_in_admin(browsers)
    status, body = await boss.get_json("/api/admin/ticket-source")
    assert status == 200
    assert body == {
        "sources": [
            {
                "source": "http",
                "last_sync_at": now.isoformat(),
                "last_full_sync_at": None,
                "newest_update": None,
                "last_error": "timeout: tickets: no answer in time",
                "last_error_at": None,
                "failures_in_a_row": 2,
                "reports_since": None,
                "open_tickets": 2,
                "reports_pending": 0,
                "reports_given_up": 1,
            }
        ]
    }
