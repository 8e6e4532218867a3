"""The router process: the ARI application on its own event stream, with its database pool.

`Router` is what `sticky-router run` starts, and what the end-to-end tests start in their own
event loop against the sandbox. It owns nothing it cannot close: `stop()` ends the event stream,
lets calls in the middle of a decision finish, and closes the pool.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import structlog

from sticky_router.ami.connection import AmiLearner, AmiSettings
from sticky_router.ari_app.app import DialplanTargets, StickyRouterApp
from sticky_router.ari_app.client import AriClient
from sticky_router.ari_app.prompts import prompt_names
from sticky_router.process import database
from sticky_router.process.event_loop import running_loop_kind
from sticky_router.process.journaling import DEFAULT_JOURNAL_DIR, Journaling, follow_queue_log
from sticky_router.process.metrics import PrometheusObserver
from sticky_router.process.node_presence import NodePresence, RouterHeartbeat, check_node
from sticky_router.process.retention_job import RetentionJob
from sticky_router.process.ticket_source import TicketSourceSettings, TicketSourceWork, mirror_name
from sticky_router.queue_log.follower import SETTLE_SECONDS, QueueLogFollower
from sticky_router.routing_core import CallRecorder, RoutingService
from sticky_router.routing_core.backlog_watch import BacklogWatch
from sticky_router.routing_core.callback_dialer import CallbackDialer
from sticky_router.routing_core.live import MemberFacts
from sticky_router.routing_core.store.journal import DEFAULT_MAX_EVENTS
from sticky_router.routing_core.store.retention import RetentionPolicy
from sticky_router.web.app import create_app, utc_now
from sticky_router.web.pops.dispatch import PopDispatcher
from sticky_router.web.pops.hub import PopHub
from sticky_router.web.pops.notices import PopNotices
from sticky_router.web.server import WebServer
from sticky_router.web.settings import WebSettings

log = structlog.get_logger("sticky_router.router")

# Long enough for a call in a busy wait to reach its agent or the queue.
DRAIN_SECONDS = 20.0
# How often a caller nothing drives is looked for in the application (two sweeps in a row).
SWEEP_SECONDS = 5.0


@dataclass(frozen=True)
class RouterSettings:
    """Where the router connects. Passwords are plain strings here, so keep this out of logs:
    the repr hides them."""

    database_url: str
    ari_url: str
    ari_user: str
    ari_password: str
    # PostgreSQL itself when database_url is a pooler in transaction mode (PgBouncer): then the
    # pools keep no prepared statement, and LISTEN and the replay's long reads go direct.
    database_direct_url: str | None = None
    ari_app: str = "sticky-router"
    default_region: str = "RU"
    db_budget_seconds: float = 0.3
    db_pool_size: int = 10
    # The pages' own connections: a flood of requests can exhaust these, never the routing ones.
    web_db_pool_size: int = 4
    queue_context: str = "sticky-queue"
    # One node of several (docs/multi-node.md): its Asterisk's systemname; None: one node.
    node: str | None = None
    # AMI, for learning who answers queue calls and transfers; no password: no learning.
    ami_host: str = "127.0.0.1"
    ami_port: int = 5038
    ami_user: str = "sticky-router"
    ami_password: str | None = None
    # The agent screen and admin pages; None: no web server (calls are routed all the same).
    web: WebSettings | None = None
    # What the router learns is on this disk first (routing_core/store/journal.py).
    journal_path: Path = DEFAULT_JOURNAL_DIR / "router.journal"
    journal_max_events: int = DEFAULT_MAX_EVENTS
    # Asterisk's queue_log, read to learn the calls the router missed; None: not read.
    queue_log_path: Path | None = None
    queue_log_settle_seconds: float = SETTLE_SECONDS
    # Old personal data and expired web sessions are purged this often; None: not by this process.
    retention: RetentionPolicy | None = None
    retention_interval_seconds: float = 3600.0
    # An external ticket source (mirrored in the background); None: the built-in tables.
    tickets: TicketSourceSettings | None = None

    def __repr__(self) -> str:
        return f"RouterSettings(ari_url={self.ari_url!r}, ari_app={self.ari_app!r})"

    @property
    def session_database_url(self) -> str:
        """Where session state may be kept: LISTEN, cursors, SET LOCAL of a long read."""
        return self.database_direct_url or self.database_url


class Router:
    def __init__(self, settings: RouterSettings) -> None:
        self.settings = settings
        self._pool: asyncpg.Pool | None = None
        self._web_pool: asyncpg.Pool | None = None
        self._notices: PopNotices | None = None
        self._client: AriClient | None = None
        self._events: asyncio.Task[None] | None = None
        self._sweeps: asyncio.Task[None] | None = None
        self._lag: asyncio.Task[None] | None = None
        self._outages: asyncio.Task[None] | None = None  # the automatic outage mode
        self._callbacks: asyncio.Task[None] | None = None  # the callbacks agents owe
        self._presence: NodePresence | None = None  # this node's members, for the other nodes
        self._presence_task: asyncio.Task[None] | None = None
        self._heartbeat: RouterHeartbeat | None = None  # for the other routers of this Asterisk
        self._heartbeat_task: asyncio.Task[None] | None = None
        self.app: StickyRouterApp | None = None
        self.learner: AmiLearner | None = None
        self.pops = PopHub()
        self.web: WebServer | None = None
        self._dispatcher: PopDispatcher | None = None
        self.journaling: Journaling | None = None
        self.follower: QueueLogFollower | None = None
        self.metrics = PrometheusObserver()
        self.retention: RetentionJob | None = None
        self.tickets: TicketSourceWork | None = None

    async def start(self) -> None:
        """Open the pool and start the ARI event stream (and the AMI learner) in the background;
        they keep retrying while Asterisk is not there. `wait_connected` waits for them."""
        try:
            await self._start()
        except BaseException:
            await self.stop()  # what did start is closed again (the journal's lock with it)
            raise

    async def _start(self) -> None:
        settings = self.settings
        pooled = settings.database_direct_url is not None
        self._pool = await database.open_pool(
            settings.database_url, settings.db_pool_size, transaction_pooled=pooled
        )
        routing = RoutingService(
            self._pool,
            default_region=settings.default_region,
            db_budget_seconds=settings.db_budget_seconds,
            observer=self.metrics,
            ticket_mirror=mirror_name(settings.tickets),
            node=settings.node,
        )
        if settings.web is not None:  # rings become pops only when there is a screen to show them
            self._web_pool = await database.open_pool(
                settings.database_url, settings.web_db_pool_size, transaction_pooled=pooled
            )
        if settings.tickets is not None:  # the pages' pool, when there is one: not routing's
            self.tickets = TicketSourceWork(
                settings.tickets, self._web_pool or self._pool, self.metrics
            )
            self.metrics.ticket_source_configured(self.tickets.source.name)
        if settings.web is not None:
            self._notices = PopNotices(settings.session_database_url)
            self._notices.start()
            self._dispatcher = PopDispatcher(
                self._web_pool or self._pool, self.pops, utc_now, notices=self._notices,
                ticket_details=self.tickets.details if self.tickets else None,
            )  # fmt: skip
        recorder = CallRecorder(self._pool, self.metrics)
        self.journaling = Journaling(
            settings.journal_path,
            recorder,
            max_events=settings.journal_max_events,
            ringing=self._dispatcher,
        )
        journal = await self.journaling.start()
        self.metrics.watch_journal(self.journaling)
        self.follower = follow_queue_log(
            settings.queue_log_path, journal, settings.default_region,
            settings.queue_log_settle_seconds,
        )  # fmt: skip
        self._client = AriClient(
            settings.ari_url, settings.ari_user, settings.ari_password, settings.ari_app
        )
        await self._client.__aenter__()
        self.metrics.watch_connection("ari", self._client.connected.is_set)
        self.app = StickyRouterApp(
            self._client,
            routing,
            journal,
            DialplanTargets(queue_context=settings.queue_context),
        )
        self._events = asyncio.get_running_loop().create_task(
            self._client.run_events(self.app.on_event, self._on_connected)
        )
        self._heartbeat = RouterHeartbeat(self._web_pool or self._pool, settings.ari_app)
        self.app.dead_routers = self._heartbeat.dead_routers
        self._heartbeat_task = asyncio.get_running_loop().create_task(self._heartbeat.run())
        self._sweeps = self.app.run_sweeps(SWEEP_SECONDS)
        self._lag = asyncio.get_running_loop().create_task(self.metrics.watch_loop_lag())
        if settings.retention is not None:
            self.retention = RetentionJob(
                self._web_pool or self._pool,  # the pages' pool, when there is one: not routing's
                settings.retention,
                session_idle=(settings.web or WebSettings()).session_idle,
                count=self.metrics.rows_purged,
            )
            self.retention.start(settings.retention_interval_seconds)
        if self.tickets is not None:
            self.tickets.start()
        if settings.ami_password is None:
            log.warning(
                "learning_off",
                why="no AMI password: answers in the queue and transfers are not recorded, so "
                "callbacks after a queued call will not find that agent"
                + (", and the other nodes will not ring this node's agents" if settings.node
                   else ""),
            )  # fmt: skip
        else:
            ami = AmiSettings(
                settings.ami_host, settings.ami_port, settings.ami_user, settings.ami_password
            )
            self.learner = AmiLearner(ami, journal)
            self.metrics.watch_connection("ami", self.learner.connected.is_set)
            self.learner.start()
            # Not routing's pool: the watch must never take a connection a decision needs.
            watch = BacklogWatch(
                self._web_pool or self._pool,
                self.learner.callers,
                counted=self.metrics.outages_in_force,
            )
            self._outages = asyncio.get_running_loop().create_task(watch.run())
            # Callbacks need both: AMI says who is free, ARI rings them.
            dialer = CallbackDialer(self._web_pool or self._pool, self.learner.board,
                                    self.app.callbacks,
                                    counted=self.metrics.callback_attempt_ended)  # fmt: skip
            self.app.callbacks.finished = dialer.finished
            self._callbacks = asyncio.get_running_loop().create_task(dialer.run())
            if settings.node is not None:  # the other nodes' routers ring our agents by it
                self._presence = NodePresence(
                    self._web_pool or self._pool, settings.node, self.learner.board
                )
                self._presence_task = asyncio.get_running_loop().create_task(self._presence.run())
        await self.start_web()
        log.info(
            "router_started",
            ari_url=settings.ari_url,
            app=settings.ari_app,
            event_loop=running_loop_kind(),
        )

    async def _on_connected(self) -> None:
        """After every (re)connect to ARI: the node check, then the application's own."""
        node = self.settings.node
        if node is not None and self._client is not None:
            matches = await check_node(self._client, node)
            if matches is not None:
                self.metrics.node_checked(node, matches)
        if self.app is not None:
            await self.app.on_connected()

    async def start_web(self) -> None:
        """The pages are a side door: if they cannot start, calls are routed all the same.
        (Also how a test restarts the web server alone: stop_web(), then start_web().)"""
        web_settings = self.settings.web
        if web_settings is None or self._web_pool is None or self.web is not None:
            return
        try:
            app = create_app(
                pool=self._web_pool,
                settings=web_settings,
                hub=self.pops,
                metrics=self.metrics.exposition,
                database_url=self.settings.session_database_url,
                ticket_details=self.tickets.details if self.tickets else None,
                prompts=self._prompts,
                live_members=self._live_members,
                queue_names=self._queue_names,
            )
            self.web = WebServer(app, web_settings.host, web_settings.port)
            if not await self.web.start():
                self.web = None
        except Exception:
            log.exception("web_failed")
            self.web = None

    def _live_members(self) -> list[MemberFacts] | None:
        board = self.learner.board if self.learner is not None else None
        return board.members() if board is not None and board.known else None

    def _queue_names(self) -> set[str] | None:
        board = self.learner.board if self.learner is not None else None
        return board.queues() if board is not None and board.known else None

    async def _prompts(self) -> list[str]:
        if self._client is None:
            raise RuntimeError("ARI is not connected")
        return await prompt_names(self._client)

    async def stop_web(self) -> None:
        if self.web is not None:
            await self.web.stop()
            self.web = None

    async def quiesce(self, seconds: float) -> bool:
        """Learn everything there is to learn now: the queue_log read to its end, the journal
        applied (at most `seconds`). Whether nothing is left. For a planned reset of the
        history (the tests' fresh demo data), so no late event lands after it."""
        if self.follower is not None:
            await self.follower.catch_up()
        if self.learner is not None:
            await self.learner.flush()
        if self.journaling is None or self.journaling.applier is None:
            return True
        return await self.journaling.applier.drain(seconds)

    @property
    def running(self) -> bool:
        return self._events is not None

    async def wait_connected(self, seconds: float) -> None:
        """Until ARI (and AMI, when configured) accept us."""
        if self._client is None:
            raise RuntimeError("the router is not started")
        async with asyncio.timeout(seconds):
            await self._client.connected.wait()
            if self.learner is not None:
                await self.learner.connected.wait()

    async def stop(self) -> None:
        """Send new calls to the queue, let the calls in flight reach their agent or the queue,
        then close. Connected calls are the dialplan's: they go on as if nothing happened."""
        if self.retention is not None:  # a batch cut short rolls back; the next run redoes it
            await self.retention.stop()
            self.retention = None
        if self.tickets is not None:
            await self.tickets.stop()
            self.tickets = None
        await self.stop_web()
        if self.app is not None:
            await self.app.drain(DRAIN_SECONDS)
        tasks = (self._sweeps, self._lag, self._events, self._outages, self._callbacks,
                 self._presence_task, self._heartbeat_task)  # fmt: skip
        for task in tasks:
            if task is not None:
                await _cancelled(task)
        self._sweeps = self._lag = self._events = self._outages = self._callbacks = None
        self._presence_task = self._heartbeat_task = None
        if self._heartbeat is not None:
            await self._heartbeat.leave()
            self._heartbeat = None
        if self._presence is not None:
            await self._presence.leave()
            self._presence = None
        if self.learner is not None:
            await self.learner.stop()
            self.learner = None
        if self.follower is not None:
            await self.follower.stop()
            self.follower = None
        if self._dispatcher is not None:
            await self._dispatcher.close()
            self._dispatcher = None
        if self._notices is not None:
            await self._notices.stop()
            self._notices = None
        if self._client is not None:
            await self._client.__aexit__(None, None, None)
            self._client = None
        if self.journaling is not None:  # after every reporter stopped
            await self.journaling.stop()
            self.journaling = None
        for pool in (self._pool, self._web_pool):
            if pool is not None:
                await pool.close()
        self._pool = self._web_pool = None
        log.info("router_stopped")

    async def __aenter__(self) -> Router:
        await self.start()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.stop()


async def serve(settings: RouterSettings, stop: asyncio.Event) -> None:
    """Run until `stop` is set (SIGINT/SIGTERM in the CLI)."""
    async with Router(settings):
        await stop.wait()


async def _cancelled(task: asyncio.Task[None]) -> None:
    """Cancel a background task and wait for it. One that had already died is logged, not
    raised: a stop must always get as far as closing the journal and the pools."""
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        pass
    except Exception:
        log.exception("background_task_had_failed", task=task.get_name())
