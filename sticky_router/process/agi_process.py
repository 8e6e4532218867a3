"""The FastAGI process (`sticky-router agi`): the AGI server with its pool, and AMI learning.

The same routing core and recorder as the ARI router, so a dialplan-only PBX gets the same
decision; the AMI learner, when configured, also records transfers, which the AGI hooks cannot
see. The same Prometheus metrics as the router's are served at `/metrics` on `metrics_port`
(this process has no web app of its own). `stop` ends it: Asterisk's AGI() calls under way
finish, then the writes aside.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import structlog
from aiohttp import web

from sticky_router.agi.peers import LOOPBACK, PeerPolicy
from sticky_router.agi.scripts import AgiScripts
from sticky_router.agi.server import AgiServer
from sticky_router.ami.connection import AmiLearner, AmiSettings
from sticky_router.process import database
from sticky_router.process.event_loop import running_loop_kind
from sticky_router.process.journaling import DEFAULT_JOURNAL_DIR, Journaling, follow_queue_log
from sticky_router.process.metrics import PrometheusObserver
from sticky_router.process.node_presence import NodePresence
from sticky_router.process.ticket_source import TicketSourceSettings, TicketSourceWork, mirror_name
from sticky_router.queue_log.follower import SETTLE_SECONDS, QueueLogFollower
from sticky_router.routing_core import CallRecorder, RoutingService
from sticky_router.routing_core.backlog_watch import BacklogWatch
from sticky_router.routing_core.store.journal import DEFAULT_MAX_EVENTS

log = structlog.get_logger("sticky_router.agi_process")


@dataclass(frozen=True)
class AgiProcessSettings:
    """Passwords are plain strings here, so keep this out of logs: the repr hides them."""

    database_url: str
    # PostgreSQL itself when database_url is a pooler in transaction mode (PgBouncer): the pool
    # then keeps no prepared statement between transactions.
    database_direct_url: str | None = None
    host: str = "127.0.0.1"
    port: int = 4573
    # Who may talk to it (agi.peers): Asterisk's addresses, and the secret in every AGI URL.
    allowed_peers: str = LOOPBACK
    secret: str = ""
    max_connections: int = 200
    default_region: str = "RU"
    db_budget_seconds: float = 0.3
    db_pool_size: int = 10
    ami: AmiSettings | None = None
    # One node of several (docs/multi-node.md): its Asterisk's systemname. With AMI, this
    # process publishes the node's queue members for the other nodes, and an agent logged in
    # on another node is rung through the trunk to it. None: a line of one node.
    node: str | None = None
    metrics_port: int | None = None  # None: no /metrics listener
    # What this process learns is on this disk first; not the router's file (each has its own).
    journal_path: Path = DEFAULT_JOURNAL_DIR / "agi.journal"
    journal_max_events: int = DEFAULT_MAX_EVENTS
    # Asterisk's queue_log, for a PBX with no ARI router beside this process (with one, let
    # the router read it: two readers only do the same work twice).
    queue_log_path: Path | None = None
    # An external ticket source, mirrored by this process too (a PBX with no ARI router).
    tickets: TicketSourceSettings | None = None

    def __repr__(self) -> str:
        return f"AgiProcessSettings(host={self.host!r}, port={self.port})"


class AgiProcess:
    def __init__(self, settings: AgiProcessSettings) -> None:
        self.settings = settings
        self.server: AgiServer | None = None
        self.learner: AmiLearner | None = None
        self._outages: asyncio.Task[None] | None = None  # the automatic outage mode
        self._presence: NodePresence | None = None  # this node's members, for the other nodes
        self._presence_task: asyncio.Task[None] | None = None
        self._scripts: AgiScripts | None = None
        self._pool: asyncpg.Pool | None = None
        self._metrics_site: web.AppRunner | None = None
        self.journaling: Journaling | None = None
        self.follower: QueueLogFollower | None = None
        self.metrics = PrometheusObserver()
        self.tickets: TicketSourceWork | None = None

    async def start(self) -> None:
        settings = self.settings
        peers = PeerPolicy.of(settings.allowed_peers, settings.secret)  # refuses a weak secret
        pool = await database.open_pool(
            settings.database_url,
            settings.db_pool_size,
            transaction_pooled=settings.database_direct_url is not None,
        )
        self._pool = pool
        routing = RoutingService(
            pool,
            default_region=settings.default_region,
            db_budget_seconds=settings.db_budget_seconds,
            observer=self.metrics,
            ticket_mirror=mirror_name(settings.tickets),
            node=settings.node,
        )
        if settings.tickets is not None:
            self.tickets = TicketSourceWork(settings.tickets, pool, self.metrics)
            self.metrics.ticket_source_configured(self.tickets.source.name)
            self.tickets.start()
        recorder = CallRecorder(pool, self.metrics)
        self.journaling = Journaling(
            settings.journal_path, recorder, max_events=settings.journal_max_events
        )
        journal = await self.journaling.start()
        self.metrics.watch_journal(self.journaling)
        if settings.queue_log_path is not None:
            self.follower = follow_queue_log(
                settings.queue_log_path, journal, settings.default_region, SETTLE_SECONDS
            )
        self._scripts = AgiScripts(routing, journal)
        self.server = AgiServer(
            self._scripts.handlers(),
            settings.host,
            settings.port,
            peers,
            on_refused=self.metrics.agi_refused,
            max_connections=settings.max_connections,
        )
        await self.server.start()
        if settings.ami is not None:
            self.learner = AmiLearner(settings.ami, journal)
            self.learner.start()
            watch = BacklogWatch(pool, self.learner.callers, counted=self.metrics.outages_in_force)
            self._outages = asyncio.get_running_loop().create_task(watch.run())
            if settings.node is not None:  # the other nodes ring our agents by it
                self._presence = NodePresence(pool, settings.node, self.learner.board)
                self._presence_task = asyncio.get_running_loop().create_task(self._presence.run())
        if settings.metrics_port is not None:
            self._metrics_site = await self._serve_metrics(settings.host, settings.metrics_port)
        log.info(
            "agi_started", host=settings.host, port=self.server.port, event_loop=running_loop_kind()
        )

    async def quiesce(self, seconds: float) -> bool:
        """Everything learned so far applied to PostgreSQL (at most `seconds`): the scripts'
        writes aside, then the journal. Whether nothing is left (tests, planned resets)."""
        if self._scripts is not None:
            await self._scripts.drain(seconds)
        if self.journaling is None or self.journaling.applier is None:
            return True
        return await self.journaling.applier.drain(seconds)

    async def _serve_metrics(self, host: str, port: int) -> web.AppRunner:
        async def metrics(_request: web.Request) -> web.Response:
            body, content_type = self.metrics.exposition()
            response = web.Response(body=body)
            response.headers["Content-Type"] = content_type
            return response

        app = web.Application()
        app.router.add_get("/metrics", metrics)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, host, port).start()
        log.info("agi_metrics_listening", host=host, port=port)
        return runner

    async def stop(self) -> None:
        if self.tickets is not None:
            await self.tickets.stop()
            self.tickets = None
        if self._metrics_site is not None:
            await self._metrics_site.cleanup()
            self._metrics_site = None
        if self.server is not None:
            await self.server.stop()
            self.server = None
        if self._scripts is not None:
            await self._scripts.drain()
        if self._outages is not None:
            self._outages.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._outages
            self._outages = None
        if self._presence_task is not None:
            self._presence_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._presence_task
            self._presence_task = None
        if self._presence is not None:
            await self._presence.leave()  # at once, not 6 s later
            self._presence = None
        if self.learner is not None:
            await self.learner.stop()
            self.learner = None
        if self.follower is not None:
            await self.follower.stop()
            self.follower = None
        if self.journaling is not None:
            await self.journaling.stop()
            self.journaling = None
        if self._pool is not None:
            await self._pool.close()
            self._pool = None
        log.info("agi_stopped")

    async def __aenter__(self) -> AgiProcess:
        await self.start()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.stop()


async def serve_agi_process(settings: AgiProcessSettings, stop: asyncio.Event) -> None:
    """Run until `stop` is set (SIGINT/SIGTERM in the CLI)."""
    async with AgiProcess(settings):
        await stop.wait()
