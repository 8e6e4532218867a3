"""Admin pages end to end: a real Asterisk 22 (phone ports from 46000) and PostgreSQL, the router
with its web server in this process, SIPp phones, and headless Chromium (Playwright driving the
Debian package's /usr/bin/chromium). The e2e and browser suites' fixtures are reused; they resolve
against this suite's own `sandbox` and `router`."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Iterator

import pytest

from sticky_router import database
from sticky_router.router import Router
from sticky_router.sandbox.asterisk import throwaway_asterisk
from sticky_router.sandbox.postgres import throwaway_postgres
from sticky_router.sandbox.stack import Sandbox
from tests.browser.conftest import artifacts, chromium, contexts, free_tcp_port  # noqa: F401
from tests.e2e.conftest import asterisk, fresh, phone_logs, pool, postgres  # noqa: F401
from web.settings import WebSettings


@pytest.fixture(scope="session")
def sandbox() -> Iterator[Sandbox]:
    with (
        throwaway_postgres() as database_server,
        throwaway_asterisk("admin", phone_ports_from=46000) as asterisk_server,
    ):
        database.upgrade(database_server.dsn)
        yield Sandbox(database_server, asterisk_server)


@pytest.fixture(scope="session")
async def router(sandbox: Sandbox) -> AsyncIterator[Router]:
    web = WebSettings(port=free_tcp_port())
    router = Router(dataclasses.replace(sandbox.router_settings(), web=web))
    await router.start()
    await router.wait_connected(10)
    assert router.web is not None, "the web server did not start"
    yield router
    await router.stop()


@pytest.fixture(scope="session")
def base_url(router: Router) -> str:
    assert router.settings.web is not None
    return router.settings.web.base_url
