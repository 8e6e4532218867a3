"""Real calls with an external ticket system: SIPp callers and agent phones, Asterisk 22, the
router with STICKY_TICKET_SOURCE=http pointed at the example ticket service (tickets_http) on
loopback. Ivan's last agent is agent2 (the demo); in the CRM his ticket CRM-5001 is agent3's.
Under "owner wins" his call rings agent3, the call-ended webhook carries it, and with the CRM
stopped his next call still rings agent3, from the mirror."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import asyncpg
import pytest
from aiohttp import web

from devkit.sandbox.asterisk import LocalAsterisk
from devkit.sandbox.stack import Sandbox
from sticky_router.process.router import Router
from sticky_router.process.ticket_source import TicketSourceSettings
from sticky_router.tickets_http.example_service import EXAMPLE_TICKETS, TicketBook, create_app
from testkit.sipp import assert_calls_succeeded
from testkit.waiting import eventually
from tests.e2e.phones import AgentPhones, call
from tests.e2e.records import legs, settled
from tests.e2e.replacement import owner_wins_from_an_empty_mirror, replacing
from tests.web.conftest import free_port

IVAN = "79123456701"
DATA = EXAMPLE_TICKETS
TOKEN = "e2e-ticket-token-0123"


@pytest.fixture
async def crm() -> AsyncIterator[tuple[TicketBook, web.AppRunner, int]]:
    book = TicketBook.from_file(DATA, TOKEN)
    runner, port = web.AppRunner(create_app(book)), free_port()
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield book, runner, port
    await runner.cleanup()


@pytest.fixture
async def crm_router(
    fresh: object,
    router: Router,
    sandbox: Sandbox,
    pool: asyncpg.Pool,
    crm: tuple[TicketBook, web.AppRunner, int],
) -> AsyncIterator[Router]:
    """A router with the HTTP ticket source in place of the suite's, once it mirrored the CRM."""
    del fresh
    await owner_wins_from_an_empty_mirror(pool, "e2e")
    tickets = TicketSourceSettings(
        url=f"http://127.0.0.1:{crm[2]}", token=TOKEN, sync_interval_seconds=0.5,
        report_delay=timedelta(0),
    )  # fmt: skip
    settings = dataclasses.replace(sandbox.router_settings(), tickets=tickets)
    async with replacing(router, settings) as with_crm:

        async def mirrored() -> bool:
            return bool(await pool.fetchval("SELECT count(*) FROM ticket_mirror"))

        await eventually(mirrored, 10.0, poll=0.1)
        yield with_crm


async def test_a_caller_whose_crm_ticket_agent3_owns_reaches_agent3(
    crm_router: Router,
    crm: tuple[TicketBook, web.AppRunner, int],
    asterisk: LocalAsterisk,
    pool: asyncpg.Pool,
    phone_logs: Path,
) -> None:
    book, service, _ = crm
    with AgentPhones(asterisk, phone_logs, {"agent3": "uas_answer.xml"}) as phones:
        result = await call(asterisk, phone_logs, caller_id=IVAN, hold_ms=1500)
        assert_calls_succeeded(result)
    assert phones.rung() == {"agent1": 0, "agent2": 0, "agent3": 1, "agent4": 0}
    row = await settled(pool, IVAN)
    assert (row["route"], row["route_reason"], row["outcome"]) == (
        "sticky", "ticket_owner", "sticky"
    )  # fmt: skip
    assert row["ticket_ref"] == "CRM-5001"
    [leg] = await legs(pool, row["id"])
    assert (leg["agent"], leg["answered_at"] is not None) == ("agent3", True)

    async def reported() -> bool:
        return row["call_id"] in book.calls

    await eventually(reported, 10.0, poll=0.1)
    body = book.calls[row["call_id"]]
    assert (body["ticket"], body["agent"], body["route"]) == ("CRM-5001", "agent3", "sticky")
    assert book.call_posts == 1

    # The CRM stops: Ivan's next call is routed from the mirror, as if nothing happened.
    await service.cleanup()
    assert await crm_router.quiesce(10)
    with AgentPhones(asterisk, phone_logs, {"agent3": "uas_answer.xml"}) as phones:
        result = await call(asterisk, phone_logs, caller_id=IVAN, hold_ms=1000)
        assert_calls_succeeded(result)
    assert phones.rung() == {"agent1": 0, "agent2": 0, "agent3": 1, "agent4": 0}
