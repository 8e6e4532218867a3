"""Typed keys for what the app factory puts on the application (aiohttp's `web.AppKey`)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime

import asyncpg
import jinja2
from aiohttp import web

from sticky_router.routing_core.live import MemberFacts
from sticky_router.routing_core.ticket_details import LiveTicketDetails
from sticky_router.web.auth.passwords import PasswordChecks
from sticky_router.web.auth.ratelimit import SignInLimiter
from sticky_router.web.pops.hub import PopHub
from sticky_router.web.settings import WebSettings

Clock = Callable[[], datetime]
# A room's `setup(app)`, adding its routes (web/app.py, and each room's routes.py).
RouteGroup = Callable[[web.Application], None]

POOL = web.AppKey("pool", asyncpg.Pool)
SETTINGS = web.AppKey("web_settings", WebSettings)
HUB = web.AppKey("pop_hub", PopHub)
CLOCK: web.AppKey[Clock] = web.AppKey("clock")
LIMITER = web.AppKey("sign_in_limiter", SignInLimiter)
PASSWORDS = web.AppKey("password_checks", PasswordChecks)
TEMPLATES = web.AppKey("templates", jinja2.Environment)
# The Prometheus text and its content type (sticky_router.metrics); absent: /metrics is 404.
Exposition = Callable[[], tuple[bytes, str]]
METRICS: web.AppKey[Exposition] = web.AppKey("metrics")
# The database URL, for work done in other processes (the what-if replay); absent: not offered.
DATABASE_URL = web.AppKey("database_url", str)
# One what-if replay at a time (it takes both cores); the what-if page and the settings preview.
REPLAY_LOCK = web.AppKey("replay_lock", asyncio.Lock)
# The prompts Asterisk can play (sound names), for the settings page's sound picker; absent
# (FastAGI-only, no ARI): the page asks for a name instead.
Prompts = Callable[[], Awaitable[Sequence[str]]]
PROMPTS: web.AppKey[Prompts] = web.AppKey("prompts")
# Queue memberships as AMI reports them now, for the live view; None while unknown (AMI down);
# absent: no AMI configured.
LiveMembers = Callable[[], "Sequence[MemberFacts] | None"]
LIVE_MEMBERS: web.AppKey[LiveMembers] = web.AppKey("live_members")
# The queues Asterisk has (empty ones too), None while unknown; absent: no AMI configured.
QueueNames = Callable[[], "set[str] | None"]
QUEUE_NAMES: web.AppKey[QueueNames] = web.AppKey("queue_names")
# An external ticket source's details for the pops; absent: the built-in tables.
TICKET_DETAILS = web.AppKey("ticket_details", LiveTicketDetails)


# Open agent websockets, closed on shutdown so a stopping server does not wait for browsers.
class OpenSockets:
    def __init__(self) -> None:
        self.sockets: set[web.WebSocketResponse] = set()


SOCKETS = web.AppKey("agent_sockets", OpenSockets)
