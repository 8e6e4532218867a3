"""The ticket source's health on the admin API: what failed last, how fresh the mirror is."""

from __future__ import annotations

from collections.abc import Callable

import asyncpg

from sticky_router.routing_core.ticket_sync import CallReporter, TicketMirrorSync
from sticky_router.tickets_http.client import HttpTicketSource
from tests.tickets.conftest import TicketService
from tests.web.conftest import (  # noqa: F401 - fixtures
    Browser,
    WebApp,
    browsers,
    make_web,
    seeded,
    web,
)


async def test_an_admin_sees_the_last_sync_and_the_last_failure(
    db: asyncpg.Pool,
    web: WebApp,  # noqa: F811
    browsers: Callable[[], Browser],  # noqa: F811
    service: TicketService,
    source: HttpTicketSource,
) -> None:
    sync = TicketMirrorSync(source, db)
    assert await sync.sync_once()
    await CallReporter(source, db).report_once()
    service.book.garbage = True
    assert not await sync.sync_once()

    admin = browsers()
    assert await admin.sign_in("admin", "boss") == 303
    status, body = await admin.get_json("/api/admin/ticket-source")
    assert status == 200
    (health,) = body["sources"]
    assert health["source"] == "http"
    assert health["open_tickets"] == 2
    assert health["last_sync_at"] is not None
    assert health["last_full_sync_at"] is not None
    assert health["failures_in_a_row"] == 1
    assert health["last_error"].startswith("invalid: tickets: ")
    assert "test-token" not in str(body)
    assert health["reports_pending"] == 0

    agent = browsers()
    assert await agent.sign_in("agent", "agent2") == 303
    status, _ = await agent.get_json("/api/admin/ticket-source")
    assert status == 403
