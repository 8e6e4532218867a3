"""The pop with an external ticket source: the caller's tickets asked of the source live (real
HTTP to the example service) with a hard timeout and a cache; a source that does not answer
makes the pop say so, on time. The web app over real HTTP and websockets on real PostgreSQL."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer

from sticky_router.process.metrics import PrometheusObserver
from sticky_router.routing_core import CallRecorder, IncomingCall, RoutingService, StickyDecision
from sticky_router.routing_core.events import DecisionMade
from sticky_router.routing_core.ringing import RingSource
from sticky_router.routing_core.settings import Scope
from sticky_router.routing_core.store.settings_store import set_setting
from sticky_router.routing_core.ticket_details import DetailsTiming, LiveTicketDetails
from sticky_router.routing_core.ticket_sync import TicketMirrorSync
from sticky_router.tickets_http.client import SOURCE_NAME, HttpTicketSource
from sticky_router.web.app import create_app
from sticky_router.web.auth.accounts import set_password
from sticky_router.web.pops import store as pop_store
from sticky_router.web.pops.dispatch import PopDispatcher
from sticky_router.web.pops.hub import PopHub
from sticky_router.web.settings import WebSettings
from tests.tickets.conftest import TicketService
from tests.web.conftest import Browser, FakeClock, WebApp, browsers, free_port, seeded  # noqa: F401

IVAN = "+79123456701"
POP_TIMEOUT = 0.5


@pytest.fixture
def metrics() -> PrometheusObserver:
    return PrometheusObserver()


@pytest.fixture
def details(source: HttpTicketSource, metrics: PrometheusObserver) -> LiveTicketDetails:
    return LiveTicketDetails(
        source, timing=DetailsTiming(timeout_seconds=POP_TIMEOUT), observer=metrics
    )


@pytest.fixture
async def web(
    db: asyncpg.Pool,
    seeded: asyncpg.Pool,  # noqa: F811 - the demo, after db emptied the mirror
    source: HttpTicketSource,
    details: LiveTicketDetails,
) -> AsyncIterator[WebApp]:
    await set_password(seeded, "agent", "agent3", "agent3-secret")
    await set_setting(
        seeded, scope=Scope.GLOBAL, scope_value=None, key="target_precedence",
        value="owner_first", actor="test",
    )  # fmt: skip
    assert await TicketMirrorSync(source, seeded).sync_once()
    hub, clock, port = PopHub(), FakeClock(), free_port()
    app = create_app(
        pool=seeded, settings=WebSettings(port=port), hub=hub, clock=clock, ticket_details=details
    )
    client = TestClient(TestServer(app, host="127.0.0.1", port=port))
    await client.start_server()
    yield WebApp(client, hub, clock, seeded, f"http://127.0.0.1:{port}")
    await client.close()


async def routed_to_agent3(web: WebApp) -> str:
    call_id = f"test-{uuid.uuid4()}"
    call = IncomingCall(call_id, IVAN, web.clock(), "support")
    routing = RoutingService(
        web.pool, default_region="RU", db_budget_seconds=5, ticket_mirror=SOURCE_NAME
    )
    decision = await routing.decide(call, claim=False)
    assert isinstance(decision, StickyDecision)
    assert decision.target.agent.name == "agent3"
    recorder = CallRecorder(web.pool)
    assert await recorder.call_started(call, decision.context.number)
    assert await recorder.decision_made(DecisionMade.of(decision))
    return call_id


async def pop_on_ring(
    web: WebApp, browser: Browser, details: LiveTicketDetails, call_id: str
) -> tuple[dict[str, Any], float]:
    socket = await browser.socket()
    dispatcher = PopDispatcher(web.pool, web.hub, web.clock, ticket_details=details)
    started = time.monotonic()
    dispatcher.agent_ringing(call_id, "PJSIP/agent3", RingSource.STICKY)
    while True:
        message = await socket.receive_json(timeout=5)
        if message["type"] == "pop":
            await socket.close()
            return message["pop"], time.monotonic() - started


async def agent3(open_browser: Callable[[], Browser]) -> Browser:
    browser = open_browser()
    assert await browser.sign_in("agent", "agent3", "agent3-secret") == 303
    return browser


async def test_the_pop_shows_the_crm_ticket_with_its_link_and_why(
    web: WebApp,
    browsers: Callable[[], Browser],  # noqa: F811
    details: LiveTicketDetails,
    service: TicketService,
) -> None:
    call_id = await routed_to_agent3(web)
    browser = await agent3(browsers)
    pop, _ = await pop_on_ring(web, browser, details, call_id)
    assert pop["why"]["code"] == "ticket_owner"
    assert "CRM-5001" in pop["why"]["text"]
    assert pop["tickets_unavailable"] is False
    (ticket,) = pop["tickets"]
    assert ticket["id"] == "CRM-5001"
    assert ticket["link"] == "https://crm.example.com/tickets/CRM-5001"
    assert ticket["last_faults"] == "PPPoE auth failures"
    assert ticket["of_this_call"] is True
    assert ticket["promised_by"].startswith("2026-12-03T12:00:00")
    # The demo's built-in ticket of Ivan's is not the truth any more: not shown.
    assert all(t["id"] != "T-1001" for t in pop["tickets"])

    # Asked again (the page reloads): from the cache, the service is not asked again.
    asked = service.book.requests
    status, body = await browser.get_json(f"/api/calls/{call_id}/pop")
    assert status == 200
    assert body["pop"]["tickets"][0]["id"] == "CRM-5001"
    assert service.book.requests == asked


@pytest.mark.parametrize("fault", ["stopped", "slow", "garbage"])
async def test_a_ticket_system_that_does_not_answer_is_said_so_on_time(
    web: WebApp,
    browsers: Callable[[], Browser],  # noqa: F811
    details: LiveTicketDetails,
    service: TicketService,
    metrics: PrometheusObserver,
    fault: str,
) -> None:
    call_id = await routed_to_agent3(web)
    browser = await agent3(browsers)
    if fault == "stopped":
        await service.stop()
    elif fault == "slow":
        service.book.delay_seconds = 10.0
    else:
        service.book.garbage = True
    pop, seconds = await pop_on_ring(web, browser, details, call_id)
    assert seconds < POP_TIMEOUT + 0.5
    assert pop["tickets_unavailable"] is True
    assert pop["tickets"] == []
    assert "CRM-5001" in pop["why"]["text"]  # why the call came still says which ticket
    assert pop["caller"]["number"] == IVAN
    failures = sum(
        metrics.registry.get_sample_value(
            "sticky_router_ticket_source_failures_total",
            {"source": "http", "operation": "lookup", "failure": failure},
        ) or 0
        for failure in ("unavailable", "timeout", "invalid")
    )  # fmt: skip
    assert failures == 1

    # The failure is remembered for a few seconds: the next pop does not wait again.
    started = time.monotonic()
    status, body = await browser.get_json(f"/api/calls/{call_id}/pop")
    assert time.monotonic() - started < 0.2
    assert (status, body["pop"]["tickets_unavailable"]) == (200, True)


async def test_without_a_source_the_pop_reads_the_built_in_tables(
    seeded: asyncpg.Pool,  # noqa: F811
) -> None:
    """Guards the default: no ticket details, the demo's own ticket T-1001 is shown."""
    clock = FakeClock()
    call_id = f"test-{uuid.uuid4()}"
    call = IncomingCall(call_id, IVAN, clock(), "support")
    decision = await RoutingService(seeded, default_region="RU", db_budget_seconds=5).decide(
        call, claim=False
    )
    recorder = CallRecorder(seeded)
    assert await recorder.call_started(call, decision.context.number)
    assert await recorder.decision_made(DecisionMade.of(decision))
    agent2 = await seeded.fetchval("SELECT id FROM agents WHERE name = 'agent2'")
    assert await pop_store.record_ring(seeded, call_id, agent2, clock(), "sticky")
    pop = await pop_store.load_pop(seeded, call_id, agent2, "en", clock())
    assert [t["id"] for t in pop["tickets"]][:1] == ["T-1001"]
    assert pop["tickets_unavailable"] is False
