"""External ticket systems for real: the example service of tickets_http on a loopback socket,
and Redmine 5 from Debian's packages, spoken to over HTTP by the real clients, with the
integration suite's PostgreSQL behind the router's side. Tests change the example service's
tickets (or make it slow, wrong or gone) through its `TicketBook` while it runs, and Redmine's
through its own REST API."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import asyncpg
import pytest
from aiohttp import web

from devkit.demo import DEMO_TABLES
from devkit.sandbox.redmine import LocalRedmine, throwaway_redmine
from devkit.sandbox.redmine_desk import SupportDesk, seed_support_desk
from sticky_router.tickets_http.client import HttpTicketSource
from sticky_router.tickets_http.example_service import EXAMPLE_TICKETS, TicketBook, create_app
from sticky_router.tickets_redmine.client import RedmineTicketSource
from sticky_router.tickets_redmine.settings import RedmineSettings
from tests.integration.conftest import database_url, pool, postgres  # noqa: F401 - fixtures
from tests.web.conftest import free_port

EXAMPLE_DATA = EXAMPLE_TICKETS
TOKEN = "test-token-hunter2"


@dataclass
class TicketService:
    book: TicketBook
    url: str
    runner: web.AppRunner
    port: int

    async def stop(self) -> None:
        """The service goes away: its port refuses connections."""
        await self.runner.cleanup()

    async def start(self) -> None:
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()


@pytest.fixture
async def service() -> AsyncIterator[TicketService]:
    book = TicketBook.from_file(EXAMPLE_DATA, TOKEN)
    port = free_port()
    running = TicketService(book, f"http://127.0.0.1:{port}", web.AppRunner(create_app(book)), port)
    await running.start()
    yield running
    await running.runner.cleanup()


@pytest.fixture
async def source(service: TicketService) -> AsyncIterator[HttpTicketSource]:
    client = HttpTicketSource(service.url, TOKEN, timeout_seconds=0.5, sync_timeout_seconds=0.5)
    yield client
    await client.close()


@pytest.fixture
async def db(pool: asyncpg.Pool) -> asyncpg.Pool:  # noqa: F811 - the session pool, emptied
    await pool.execute(
        f"TRUNCATE {', '.join(DEMO_TABLES)}, ticket_mirror, ticket_source_state, "
        "ticket_call_reports RESTART IDENTITY CASCADE"
    )
    await pool.execute("DELETE FROM customer_classes WHERE name <> 'standard'")
    return pool


AGENT_LOGINS = ("agent1", "agent2", "agent3", "agent4")


@pytest.fixture(scope="package")
def redmine() -> Iterator[LocalRedmine]:
    """Redmine 5 from Debian's packages, with its own SQLite database, for this package."""
    with throwaway_redmine() as server:
        yield server


@pytest.fixture(scope="package")
def desk(redmine: LocalRedmine) -> SupportDesk:
    """The Support project and agent1..agent4 as Redmine users. Tests add issues with numbers
    and accounts of their own, so they never see each other's."""
    return seed_support_desk(redmine, AGENT_LOGINS)


def redmine_settings(redmine: LocalRedmine, **changes: object) -> RedmineSettings:
    settings = RedmineSettings(
        url=redmine.url, api_key=redmine.api_key, timeout_seconds=5, sync_timeout_seconds=10
    )
    return dataclasses.replace(settings, **changes)  # type: ignore[arg-type]


@pytest.fixture
async def redmine_source(
    redmine: LocalRedmine, desk: SupportDesk
) -> AsyncIterator[RedmineTicketSource]:
    client = RedmineTicketSource(redmine_settings(redmine))
    yield client
    await client.close()
