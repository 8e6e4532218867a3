"""The Grafana board and the alert rules against a real Prometheus (Debian's package) scraping a
router that routes real calls: SIPp phones, Asterisk 22, the router with its /metrics and an
HTTP ticket source. Every panel's query parses and returns data; every alert rule evaluates."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from aiohttp import web

from devkit.sandbox.asterisk import LocalAsterisk
from devkit.sandbox.stack import Sandbox
from sticky_router.process.router import Router
from sticky_router.process.ticket_source import TicketSourceSettings
from sticky_router.tickets_http.example_service import EXAMPLE_TICKETS, TicketBook, create_app
from sticky_router.web.settings import WebSettings
from testkit.sipp import assert_calls_succeeded
from tests.e2e.phones import AgentPhones, call
from tests.e2e.prometheus import RULES, LocalPrometheus, throwaway_prometheus
from tests.e2e.replacement import replacing
from tests.web.conftest import free_port

DASHBOARD = Path(__file__).resolve().parents[2] / "ops" / "grafana" / "sticky-router-dashboard.json"
DATA = EXAMPLE_TICKETS
TOKEN = "e2e-metrics-token-0123"
IVAN = "79123456701"  # demo: last spoke with agent2
STRANGER = "79990007001"  # no history: the queue


def panel_queries() -> list[tuple[str, str]]:
    board = json.loads(DASHBOARD.read_text())
    return [(p["title"], t["expr"]) for p in board["panels"] for t in p["targets"]]


@pytest.fixture
async def watched_router(
    fresh: object, router: Router, sandbox: Sandbox
) -> AsyncIterator[tuple[Router, str]]:
    """A router with its pages (and so /metrics) and an HTTP ticket source in place of the
    suite's; its address for Prometheus."""
    del fresh
    book = TicketBook.from_file(DATA, TOKEN)
    crm, crm_port = web.AppRunner(create_app(book)), free_port()
    await crm.setup()
    await web.TCPSite(crm, "127.0.0.1", crm_port).start()
    tickets = TicketSourceSettings(
        url=f"http://127.0.0.1:{crm_port}", token=TOKEN, sync_interval_seconds=0.5,
        report_delay=timedelta(0),
    )  # fmt: skip
    pages = WebSettings(port=free_port())
    settings = dataclasses.replace(sandbox.router_settings(), web=pages, tickets=tickets)
    try:
        async with replacing(router, settings) as watched:
            yield watched, f"127.0.0.1:{pages.port}"
    finally:
        await crm.cleanup()


async def has_data(prometheus: LocalPrometheus, expression: str) -> bool:
    answer = await asyncio.to_thread(prometheus.query, expression)
    return answer["status"] == "success" and bool(answer["data"]["result"])


async def test_every_panel_and_alert_rule_evaluates_on_a_real_prometheus(
    watched_router: tuple[Router, str],
    asterisk: LocalAsterisk,
    phone_logs: Path,
    tmp_path: Path,
) -> None:
    _, target = watched_router
    with throwaway_prometheus([target], tmp_path) as prometheus:
        phones = {"agent1": "uas_answer.xml", "agent2": "uas_answer.xml"}
        with AgentPhones(asterisk, phone_logs, phones):
            for caller in (IVAN, STRANGER):  # one sticky call, one to the queue
                assert_calls_succeeded(
                    await call(asterisk, phone_logs, caller_id=caller, hold_ms=1000)
                )
        deadline = time.monotonic() + 30
        while not await has_data(prometheus, "sum(sticky_router_ring_attempts_total) >= 2"):
            assert time.monotonic() < deadline, "Prometheus never scraped both calls"
            await asyncio.sleep(0.5)
        await asyncio.sleep(3)  # a few more scrapes: rates need two samples after the calls
        # Ivan's walk: one candidate looked at (agent2, free) and rung; the stranger had none.
        for counted in ('sticky_router_candidate_checks_total{found="free"} == 1',
                        'sticky_router_candidate_checks_total{found="busy"} == 0',
                        'sticky_router_detour_seconds_count{ending="rang"} == 1',
                        'sticky_router_detour_seconds_count{ending="queue"} == 0'):  # fmt: skip
            assert await has_data(prometheus, counted), counted

        empty = []
        for title, expression in panel_queries():
            answer = await asyncio.to_thread(prometheus.query, expression)
            assert answer["status"] == "success", (title, answer)
            if not answer["data"]["result"]:
                empty.append(title)
        assert empty == []
        # The check can fail: a broken query is refused, a metric nobody exposes is empty.
        assert (await asyncio.to_thread(prometheus.query, "rate(sticky_router_calls_total[5m]"))[
            "status"
        ] == "error"
        assert not await has_data(prometheus, "sticky_router_no_such_metric")

        rules = (await asyncio.to_thread(prometheus.api, "rules"))["data"]["groups"][0]["rules"]
        assert len(rules) == RULES.read_text().count("- alert: ")  # every rule loaded
        assert [r["name"] for r in rules if r["health"] != "ok"] == []
        # A router that routes is no alert: nothing fires on a healthy line.
        alerts = (await asyncio.to_thread(prometheus.api, "alerts"))["data"]["alerts"]
        assert [a["labels"]["alertname"] for a in alerts if a["state"] == "firing"] == []
