"""The web app on a real PostgreSQL (the integration suite's cluster) through aiohttp's test
server: real HTTP, real cookies, real websockets; the browser tests (tests/browser) add Chromium.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer

from devkit.demo import seed_demo
from sticky_router.routing_core.ticket_details import LiveTicketDetails
from sticky_router.web.app import create_app
from sticky_router.web.auth.accounts import add_admin, set_password
from sticky_router.web.keys import LiveMembers, Prompts, QueueNames
from sticky_router.web.pops.hub import PopHub
from sticky_router.web.settings import WebSettings
from tests.integration.conftest import database_url, pool, postgres  # noqa: F401 - fixtures


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


PASSWORDS = {"agent1": "agent1-secret", "agent2": "agent2-secret", "boss": "boss-secret-1"}


@dataclass
class FakeClock:
    """The web app's clock, moved by the test (session expiry)."""

    now: datetime = field(default_factory=lambda: datetime.now(UTC))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


@dataclass
class WebApp:
    client: TestClient  # type: ignore[type-arg]
    hub: PopHub
    clock: FakeClock
    pool: asyncpg.Pool
    origin: str

    async def sign_in(self, kind: str, name: str, password: str | None = None) -> int:
        response = await self.client.post(
            f"/{kind}/sign-in",
            data={"name": name, "password": password or PASSWORDS[name]},
            headers={"Origin": self.origin},
            allow_redirects=False,
        )
        return response.status


@dataclass
class Browser:
    """One person's browser: its own cookie jar against the same server."""

    session: aiohttp.ClientSession
    base: str

    async def sign_in(self, kind: str, name: str, password: str | None = None) -> int:
        response = await self.session.post(
            f"{self.base}/{kind}/sign-in",
            data={"name": name, "password": password or PASSWORDS[name]},
            headers={"Origin": self.base},
            allow_redirects=False,
        )
        return response.status

    async def csrf(self) -> str:
        page = await (await self.session.get(f"{self.base}/agent/")).text()
        return page.split('name="csrf-token" content="', 1)[1].split('"', 1)[0]

    async def get_json(self, path: str) -> tuple[int, dict[str, Any]]:
        response = await self.session.get(f"{self.base}{path}")
        return response.status, await response.json()

    async def post_json(
        self, path: str, body: dict[str, Any], csrf: str | None = None
    ) -> tuple[int, dict[str, Any]]:
        headers = {"Origin": self.base}
        if csrf is not None:
            headers["X-CSRF-Token"] = csrf
        response = await self.session.post(f"{self.base}{path}", json=body, headers=headers)
        return response.status, await response.json()

    async def socket(self) -> aiohttp.ClientWebSocketResponse:
        socket = await self.session.ws_connect(
            f"{self.base}/agent/ws", headers={"Origin": self.base}
        )
        hello = await socket.receive_json(timeout=5)
        assert hello["type"] == "hello"
        return socket


class OpenBrowsers:
    """Browsers opened during one test, each with its own cookie jar; closed after it."""

    def __init__(self) -> None:
        self._sessions: list[aiohttp.ClientSession] = []

    def open(self, web: WebApp) -> Browser:
        session = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        self._sessions.append(session)
        return Browser(session, web.origin)

    async def close(self) -> None:
        for session in self._sessions:
            await session.close()


@pytest.fixture
async def browsers(web: WebApp) -> AsyncIterator[Callable[[], Browser]]:
    opened = OpenBrowsers()
    yield lambda: opened.open(web)
    await opened.close()


@pytest.fixture
async def browsers_of() -> AsyncIterator[Callable[[WebApp], Browser]]:
    """A new browser against the given web app (a test with two web apps: two routers)."""
    opened = OpenBrowsers()
    yield opened.open
    await opened.close()


@pytest.fixture
async def seeded(pool: asyncpg.Pool) -> asyncpg.Pool:  # noqa: F811
    """Demo agents and customers with known passwords for agent1, agent2 and admin `boss`."""
    await seed_demo(pool, datetime.now(UTC), reset=True)
    await pool.execute("TRUNCATE admin_users RESTART IDENTITY CASCADE")
    await add_admin(pool, "boss", "The Boss")
    for name in ("agent1", "agent2"):
        await set_password(pool, "agent", name, PASSWORDS[name])
    await set_password(pool, "admin", "boss", PASSWORDS["boss"])
    return pool


@pytest.fixture
async def make_web(
    seeded: asyncpg.Pool,
) -> AsyncIterator[Callable[..., Awaitable[WebApp]]]:
    clients: list[TestClient] = []  # type: ignore[type-arg]

    async def make(
        ticket_details: LiveTicketDetails | None = None,
        database_url: str | None = None,  # noqa: F811 - the argument, not the fixture
        prompts: Prompts | None = None,
        live_members: LiveMembers | None = None,
        queue_names: QueueNames | None = None,
        **overrides: object,
    ) -> WebApp:
        hub, clock, port = PopHub(), FakeClock(), free_port()
        settings = WebSettings(port=port, **overrides)  # type: ignore[arg-type]
        app = create_app(pool=seeded, settings=settings, hub=hub, clock=clock,
                         ticket_details=ticket_details, database_url=database_url,
                         prompts=prompts, live_members=live_members,
                         queue_names=queue_names)  # fmt: skip
        client = TestClient(TestServer(app, host="127.0.0.1", port=port))
        await client.start_server()
        clients.append(client)
        return WebApp(client, hub, clock, seeded, f"http://127.0.0.1:{port}")

    yield make
    for client in clients:
        await client.close()


@pytest.fixture
async def web(make_web: Callable[..., Awaitable[WebApp]]) -> WebApp:
    return await make_web()
