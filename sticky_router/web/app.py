"""The one app factory: the router process and the tests build the web app here.

    app = create_app(pool=pool, settings=WebSettings(port=8090), hub=PopHub(), clock=utc_now)

Dependencies come in explicitly; nothing is read from the environment. Route groups are small
modules with `setup(app)` that add their routes (agent pages under /agent/, admin pages under
/admin/, JSON under /api/); each room lists its own (agent/routes.py, admin/routes.py),
`ROUTE_GROUPS` gathers them, and a caller may pass its own list.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
from aiohttp import web

from sticky_router.routing_core.ticket_details import LiveTicketDetails
from sticky_router.web import keys, scrape
from sticky_router.web.admin import routes as admin_routes
from sticky_router.web.agent import routes as agent_routes
from sticky_router.web.auth import sign_in
from sticky_router.web.auth.passwords import PasswordChecks
from sticky_router.web.auth.ratelimit import SignInLimiter
from sticky_router.web.pops.hub import PopHub
from sticky_router.web.security import MIDDLEWARES
from sticky_router.web.settings import WebSettings
from sticky_router.web.templates import environment

STATIC_DIR = Path(__file__).parent / "static"


def utc_now() -> datetime:
    return datetime.now(UTC)


def _static(app: web.Application) -> None:
    app.router.add_static("/static/", STATIC_DIR, follow_symlinks=False)


async def _root(_request: web.Request) -> web.StreamResponse:
    raise web.HTTPSeeOther("/agent/")


def _root_group(app: web.Application) -> None:
    app.router.add_get("/", _root)


ROUTE_GROUPS: tuple[keys.RouteGroup, ...] = (
    _root_group,
    _static,
    scrape.setup,
    sign_in.setup,
    *agent_routes.ROUTE_GROUPS,
    *admin_routes.ROUTE_GROUPS,
)


def create_app(
    *,
    pool: asyncpg.Pool,
    settings: WebSettings,
    hub: PopHub,
    clock: keys.Clock = utc_now,
    route_groups: Sequence[keys.RouteGroup] = ROUTE_GROUPS,
    metrics: keys.Exposition | None = None,
    database_url: str | None = None,
    ticket_details: LiveTicketDetails | None = None,
    prompts: keys.Prompts | None = None,
    live_members: keys.LiveMembers | None = None,
    queue_names: keys.QueueNames | None = None,
) -> web.Application:
    app = web.Application(middlewares=MIDDLEWARES, client_max_size=64 * 1024)
    app[keys.POOL] = pool
    app[keys.SETTINGS] = settings
    app[keys.HUB] = hub
    app[keys.CLOCK] = clock
    app[keys.LIMITER] = SignInLimiter.create(
        settings.sign_in_failures_per_account,
        settings.sign_in_failures_per_address,
        settings.sign_in_window_seconds,
        delay_cap_seconds=settings.sign_in_delay_cap_seconds,
    )
    app[keys.PASSWORDS] = PasswordChecks()
    app[keys.TEMPLATES] = environment()
    app[keys.REPLAY_LOCK] = asyncio.Lock()
    if metrics is not None:
        app[keys.METRICS] = metrics
    if database_url is not None:
        app[keys.DATABASE_URL] = database_url
    if ticket_details is not None:
        app[keys.TICKET_DETAILS] = ticket_details
    if prompts is not None:
        app[keys.PROMPTS] = prompts
    if live_members is not None:
        app[keys.LIVE_MEMBERS] = live_members
    if queue_names is not None:
        app[keys.QUEUE_NAMES] = queue_names
    for group in route_groups:
        group(app)
    return app
