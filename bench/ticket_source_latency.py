"""Decision latency with an external ticket source up, stopped, slow or answering garbage.

    .venv/bin/python -m bench.ticket_source_latency [--decisions 300]

A throwaway PostgreSQL with the demo data (Ivan's last agent is agent2) and owner_first; the
example ticket service (tickets_http) on loopback, whose CRM-5001 of Ivan's is owned by agent3.
For each state of the service, the mirror's sync runs in a loop beside the decisions (every
50 ms, far more often than in production; a sync waits 0.5 s at most), and Ivan calls
`--decisions` times one after another; each decision is timed around RoutingService.decide and
must name agent3. Prints p50, p95, max and how many syncs failed, next to the built-in tables
(no mirror). Asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import secrets
import socket
import statistics
import time
import uuid
from datetime import UTC, datetime

from aiohttp import web

from devkit.demo import seed_demo
from devkit.sandbox.postgres import throwaway_postgres
from sticky_router.process import database
from sticky_router.process.metrics import PrometheusObserver
from sticky_router.routing_core import IncomingCall, RoutingService, StickyDecision
from sticky_router.routing_core.settings import Scope
from sticky_router.routing_core.store.settings_store import set_setting
from sticky_router.routing_core.ticket_sync import SyncTiming, TicketMirrorSync
from sticky_router.tickets_http.client import SOURCE_NAME, HttpTicketSource
from sticky_router.tickets_http.example_service import EXAMPLE_TICKETS, TicketBook, create_app

DATA = EXAMPLE_TICKETS
IVAN = "+79123456701"
TOKEN = secrets.token_urlsafe(16)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def measure(service: RoutingService, decisions: int, expected: str | None) -> list[float]:
    timings = []
    for _ in range(decisions):
        call = IncomingCall(f"bench-{uuid.uuid4()}", IVAN, datetime.now(UTC), "support")
        started = time.perf_counter()
        decision = await service.decide(call)
        timings.append(time.perf_counter() - started)
        if expected is not None:
            assert isinstance(decision, StickyDecision), decision
            assert decision.target.agent.name == expected, decision.target.agent.name
        # Not "answered": the sticky cap (6 an hour) counts answered claims only.
        await service.release(call.call_id, "noanswer", datetime.now(UTC))
    return timings


async def syncing(sync: TicketMirrorSync) -> None:
    while True:
        await sync.sync_once(full=False)
        await asyncio.sleep(0.05)


async def run(dsn: str, decisions: int) -> None:
    pool = await database.create_pool(dsn, 10)
    await seed_demo(pool, datetime.now(UTC), reset=True)
    await set_setting(pool, scope=Scope.GLOBAL, scope_value=None, key="target_precedence",
                      value="owner_first", actor="bench")  # fmt: skip
    book = TicketBook.from_file(DATA, TOKEN)
    port = free_port()
    runner = web.AppRunner(create_app(book))
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    source = HttpTicketSource(f"http://127.0.0.1:{port}", TOKEN, sync_timeout_seconds=0.5)
    metrics = PrometheusObserver()
    sync = TicketMirrorSync(source, pool, timing=SyncTiming(timeout_seconds=0.5), observer=metrics)
    assert await sync.sync_once(full=True)
    builtin = RoutingService(pool, default_region="RU", db_budget_seconds=0.3)
    mirrored = RoutingService(
        pool, default_region="RU", db_budget_seconds=0.3, ticket_mirror=SOURCE_NAME
    )
    rows = [("built-in tables, no mirror", await measure(builtin, decisions, None), "-")]

    async def with_fault(name: str) -> None:
        before = sum(
            metrics.registry.get_sample_value(
                "sticky_router_ticket_source_failures_total",
                {"source": "http", "operation": "sync", "failure": failure},
            )
            or 0
            for failure in ("unavailable", "timeout", "invalid")
        )
        loop = asyncio.get_running_loop().create_task(syncing(sync))
        timings = await measure(mirrored, decisions, "agent3")
        loop.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await loop
        after = sum(
            metrics.registry.get_sample_value(
                "sticky_router_ticket_source_failures_total",
                {"source": "http", "operation": "sync", "failure": failure},
            )
            or 0
            for failure in ("unavailable", "timeout", "invalid")
        )
        rows.append((name, timings, str(int(after - before))))

    await with_fault("mirror, service up")
    book.delay_seconds = 5.0
    await with_fault("mirror, service slow (5 s a request)")
    book.delay_seconds = 0.0
    book.garbage = True
    await with_fault("mirror, service answers garbage")
    book.garbage = False
    await runner.cleanup()
    await with_fault("mirror, service stopped")
    await source.close()
    await pool.close()

    print(f"\n{decisions} decisions each (Ivan, owner_first), sync looping every 50 ms beside them")
    print(f"| {'Ticket source':38} | p50 ms | p95 ms | max ms | failed syncs |")
    print(f"|{'-' * 40}|--------|--------|--------|--------------|")
    for name, timings, failed in rows:
        p50 = statistics.median(timings) * 1000
        p95 = percentile(timings, 0.95) * 1000
        worst = max(timings) * 1000
        print(f"| {name:38} | {p50:6.2f} | {p95:6.2f} | {worst:6.2f} | {failed:>12} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--decisions", type=int, default=300)
    arguments = parser.parse_args()
    with throwaway_postgres() as server:
        database.upgrade(server.dsn)
        asyncio.run(run(server.dsn, arguments.decisions))


if __name__ == "__main__":
    main()
