"""The whole process as deployed, minus Asterisk: `sticky-router agi` (AgiProcess) configured
with the HTTP source mirrors the example service in the background, answers a FastAGI lookup
(played by a fake Asterisk over a real socket) from the mirror, and reports the call's end."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest

from devkit.demo import seed_demo
from sticky_router.process.agi_process import AgiProcess, AgiProcessSettings
from sticky_router.process.ticket_source import TicketSourceSettings
from sticky_router.routing_core.settings import Scope
from sticky_router.routing_core.store.settings_store import set_setting
from testkit.waiting import eventually
from tests.integration.agi_peer import asterisk
from tests.tickets.conftest import TOKEN, TicketService

IVAN = "+79123456701"
SECRET = "tickets-agi-secret-0123"


@pytest.fixture
async def process(
    db: asyncpg.Pool, database_url: str, service: TicketService, tmp_path: Path
) -> AsyncIterator[AgiProcess]:
    # The demo: Ivan's last agent is agent2, his built-in ticket T-1001 someone else's.
    await seed_demo(db, datetime.now(UTC), reset=True)
    await set_setting(
        db, scope=Scope.GLOBAL, scope_value=None, key="target_precedence",
        value="owner_first", actor="test",
    )  # fmt: skip
    settings = AgiProcessSettings(
        database_url=database_url,
        port=0,
        secret=SECRET,
        db_budget_seconds=0.3,
        db_pool_size=4,
        journal_path=tmp_path / "agi.journal",
        tickets=TicketSourceSettings(
            url=service.url,
            token=TOKEN,
            timeout_seconds=0.5,
            sync_timeout_seconds=0.5,
            sync_interval_seconds=0.2,
            report_delay=timedelta(0),
        ),
    )
    running = AgiProcess(settings)
    await running.start()
    yield running
    await running.stop()


async def lookup(process: AgiProcess, call_id: str) -> dict[str, str]:
    assert process.server is not None
    env = {"uniqueid": call_id, "callerid": IVAN, "channel": "PJSIP/caller-00000001"}
    return await asterisk(process.server.port, "lookup", env, "support", secret=SECRET)


async def test_the_agi_process_routes_from_the_mirror_and_reports_the_end(
    process: AgiProcess, db: asyncpg.Pool, service: TicketService
) -> None:
    async def mirrored() -> bool:
        return bool(await db.fetchval("SELECT count(*) FROM ticket_mirror"))

    await eventually(mirrored, 5.0, poll=0.05)
    variables = await lookup(process, "1733000000.1")
    assert (variables["STICKY_TARGET"], variables["STICKY_REASON"]) == ("agent3", "ticket_owner")
    assert variables["TICKET_ID"] == "CRM-5001"

    assert process.server is not None
    env = {"uniqueid": "1733000000.1", "callerid": IVAN, "channel": "PJSIP/caller-00000001"}
    await asterisk(
        process.server.port, "ended", env,
        "PJSIP/caller-00000001", "1", "ANSWER", "agent3", "20", "12", "1733000000.8",
        secret=SECRET,
    )  # fmt: skip

    async def reported() -> bool:
        return "1733000000.1" in service.book.calls

    await eventually(reported, 5.0, poll=0.05)
    body = service.book.calls["1733000000.1"]
    assert (body["ticket"], body["agent"], body["reason"]) == ("CRM-5001", "agent3", "ticket_owner")

    # The CRM goes away: Ivan's next call is still routed at once, from the mirror.
    await service.stop()
    started = time.perf_counter()
    variables = await lookup(process, "1733000000.2")
    assert time.perf_counter() - started < 0.3
    assert (variables["STICKY_TARGET"], variables["TICKET_ID"]) == ("agent3", "CRM-5001")
    assert process.metrics.registry.get_sample_value(
        "sticky_router_ticket_mirror_syncs_total", {"source": "http", "kind": "full"}
    )

    async def failure_counted() -> bool:
        return bool(
            process.metrics.registry.get_sample_value(
                "sticky_router_ticket_source_failures_total",
                {"source": "http", "operation": "sync", "failure": "unavailable"},
            )
        )

    await eventually(failure_counted, 5.0, poll=0.05)
