"""The real sandbox for end-to-end tests: Postgres, Asterisk 22 and the router in this process.

One throwaway Postgres and one throwaway Asterisk (free loopback ports) serve the whole run;
the router runs in the test session's event loop, so a test can stop and start it. Before each
test the demo data is loaded afresh (its history is relative to now) and Asterisk is left with
no call and no paused member.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest

from devkit.demo import seed_demo
from devkit.sandbox.asterisk import LocalAsterisk
from devkit.sandbox.postgres import LocalPostgres
from devkit.sandbox.stack import Sandbox, throwaway_sandbox
from sticky_router.ari_app.client import AriClient, segment
from sticky_router.process import database
from sticky_router.process.agi_process import AgiProcess
from sticky_router.process.router import Router
from tests.e2e.ari_apps import connected_application


@pytest.fixture(scope="package")
def sandbox() -> Iterator[Sandbox]:
    with throwaway_sandbox("e2e", phone_ports_from=41000) as stack:
        yield stack


@pytest.fixture(scope="package")
def asterisk(sandbox: Sandbox) -> LocalAsterisk:
    return sandbox.asterisk


@pytest.fixture(scope="package")
def postgres(sandbox: Sandbox) -> LocalPostgres:
    return sandbox.postgres


@pytest.fixture(scope="package")
async def pool(postgres: LocalPostgres) -> AsyncIterator[asyncpg.Pool]:
    pool = await database.create_pool(postgres.dsn, size=4)
    yield pool
    await pool.close()


@pytest.fixture(scope="package")
async def router(sandbox: Sandbox) -> AsyncIterator[Router]:
    router = Router(sandbox.router_settings())
    await router.start()
    await router.wait_connected(10)
    yield router
    await router.stop()


@pytest.fixture
async def fresh(
    router: Router, pool: asyncpg.Pool, asterisk: LocalAsterisk
) -> AsyncIterator[datetime]:
    """Demo data loaded at this moment, the router connected, no call left in Asterisk."""
    if not router.running:
        await router.start()
    await router.wait_connected(10)
    await quiet(asterisk)
    # What the last test's calls taught the router lands before the reset, not after it.
    assert await router.quiesce(10), "the journal did not drain"
    moment = datetime.now(UTC)
    await seed_demo(pool, moment, reset=True)
    yield moment
    await quiet(asterisk)


async def quiet(asterisk: LocalAsterisk) -> None:
    """No channel up, every agent logged in and unpaused: each test starts from silence."""
    await asyncio.to_thread(asterisk.cli, "channel request hangup all")
    await asyncio.to_thread(asterisk.log_in_agents)
    for agent in ("agent1", "agent2", "agent3", "agent4"):
        # In every queue it is a member of (support, second-line).
        await asyncio.to_thread(asterisk.cli, f"queue unpause member {asterisk.member(agent)}")
    for _ in range(50):
        channels = await asyncio.to_thread(asterisk.cli, "core show channels count")
        if channels.lstrip().startswith("0 active channels"):
            return
        await asyncio.sleep(0.1)


@pytest.fixture
def phone_logs(tmp_path: Path) -> Path:
    return tmp_path / "sipp"


@pytest.fixture
async def agi(
    sandbox: Sandbox, router: Router, pool: asyncpg.Pool, asterisk: LocalAsterisk
) -> AsyncIterator[AgiProcess]:
    """The FastAGI server where the sandbox's dialplan expects it, demo data loaded afresh, and
    no ARI router (the next ARI test starts it again)."""
    if router.running:
        await router.stop()
    await quiet(asterisk)
    await seed_demo(pool, datetime.now(UTC), reset=True)
    async with AgiProcess(sandbox.agi_settings()) as process:
        yield process
    await quiet(asterisk)


@pytest.fixture
def prompts(asterisk: LocalAsterisk) -> Iterator[None]:
    """The product's prompts in this Asterisk's sounds, as `sticky-router prompts` makes them,
    and AGI's exchanges in its log (AGI's STREAM FILE logs nothing of its own); removed after,
    so other tests' calls keep a silent announcement."""
    asterisk.install_prompts()
    asterisk.cli("agi set debug on")
    yield
    asterisk.cli("agi set debug off")
    asterisk.remove_prompts()


@pytest.fixture(params=["ari", "agi"])
def mode(request: pytest.FixtureRequest) -> str:
    """The same call through the Stasis application (`ari`) or the FastAGI lookup (`agi`)."""
    request.getfixturevalue("fresh" if request.param == "ari" else "agi")
    return str(request.param)


@pytest.fixture
async def stasis_channel(asterisk: LocalAsterisk) -> AsyncIterator[tuple[AriClient, str]]:
    """A client of an application of its own (the session's router is not disturbed), and a
    channel in that application to read and set variables on: a Local channel, never dialled."""
    async with connected_application(asterisk, "test-channel") as client:
        channel = await client.request(
            "POST",
            "/channels/create",
            params={"endpoint": "Local/agent1@sticky-sandbox-agents", "app": client.app},
        )
        try:
            yield client, str(channel["id"])
        finally:
            await client.request("DELETE", f"/channels/{segment(channel['id'])}")
