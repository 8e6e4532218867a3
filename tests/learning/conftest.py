"""Learning for real: Asterisk 22, SIPp phones, PostgreSQL, and the AMI learner in this process.

One throwaway Postgres and one throwaway Asterisk (free loopback ports) serve the directory, the
same way tests/integration and tests/e2e start theirs. The router takes no part: calls go
straight into the queue (Request-URI `queue`), so each test writes the interaction row itself,
as the router would, once the caller's channel (its Uniqueid is the call_id) shows up on AMI.
Queue members start paused, so no agent rings before the row exists; the test unpauses the
ones that should ring.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest

from devkit.demo import seed_demo
from devkit.sandbox.asterisk import LocalAsterisk, throwaway_asterisk
from devkit.sandbox.asterisk_config import AGENTS, SUPPORT_QUEUE
from devkit.sandbox.postgres import LocalPostgres, throwaway_postgres
from sticky_router.ami.connection import AmiLearner, AmiSettings
from sticky_router.process import database
from sticky_router.process.journaling import Journaling
from sticky_router.routing_core import CallRecorder, IncomingCall
from sticky_router.routing_core.caller_key import keys_in_priority
from testkit.ami_client import AmiClient


@pytest.fixture(scope="package")
def postgres() -> Iterator[LocalPostgres]:
    with throwaway_postgres() as server:
        database.upgrade(server.dsn)
        yield server


@pytest.fixture(scope="package")
def asterisk() -> Iterator[LocalAsterisk]:
    with throwaway_asterisk("learning") as server:
        # Pinned, so a restart (the reconnect test) keeps the credentials the learner holds.
        server.ami, server.ari = server.ami_credentials, server.ari_credentials
        yield server


@pytest.fixture(scope="package")
async def pool(postgres: LocalPostgres) -> AsyncIterator[asyncpg.Pool]:
    pool = await database.create_pool(postgres.dsn, size=4)
    yield pool
    await pool.close()


@pytest.fixture
async def db(pool: asyncpg.Pool) -> asyncpg.Pool:
    """The demo data afresh: agents agent1..agent4 on PJSIP/agent1..4, agent3 the specialist."""
    await seed_demo(pool, datetime.now(UTC), reset=True)
    return pool


@pytest.fixture
async def learner(
    asterisk: LocalAsterisk, db: asyncpg.Pool, tmp_path: Path
) -> AsyncIterator[AmiLearner]:
    """The learner with its journal and applier, as the router runs them."""
    credentials = asterisk.ami_credentials
    settings = AmiSettings("127.0.0.1", asterisk.ami_port, credentials.user, credentials.password)
    journaling = Journaling(tmp_path / "router.journal", CallRecorder(db))
    learner = AmiLearner(settings, await journaling.start(), backoff=(0.2, 2.0))
    learner.start()
    await learner.wait_connected(10)
    yield learner
    await learner.stop()
    await journaling.stop()


@pytest.fixture
async def ami(asterisk: LocalAsterisk, learner: AmiLearner) -> AsyncIterator[AmiClient]:
    """The test's own AMI connection: it watches the calls and plays supervisor. Every queue
    member is paused before the test and unpaused, with no channel left, after it."""
    client = await AmiClient.connect(asterisk)
    await client.pause(*AGENTS)
    yield client
    with contextlib.suppress(OSError, TimeoutError):  # closed already by a restart
        await client.pause(*AGENTS, paused=False)
    await client.close()
    await asyncio.to_thread(asterisk.cli, "channel request hangup all")


@pytest.fixture
def phone_logs(tmp_path: Path) -> Path:
    return tmp_path / "sipp"


async def record_call_start(ami: AmiClient, pool: asyncpg.Pool, caller_id: str) -> str:
    """What the router does for a call it sends to the queue: the interaction row, keyed by the
    caller channel's Uniqueid. Returns that call_id."""
    channel = await ami.event("Newchannel", Channel="PJSIP/callers-")
    call_id = channel["Uniqueid"]
    _, number = keys_in_priority(caller_id, None, None, "RU")
    call = IncomingCall(call_id, caller_id, datetime.now(UTC), SUPPORT_QUEUE)
    assert await CallRecorder(pool).call_started(call, number)
    return call_id


async def recorded(pool: asyncpg.Pool, call_id: str, seconds: float = 10) -> asyncpg.Record:
    """The interaction once the learner has recorded its end and every leg's."""
    for _ in range(round(seconds / 0.05)):
        row = await pool.fetchrow(
            """
            SELECT i.*, (SELECT count(*) FROM interaction_legs l
                         WHERE l.interaction_id = i.id AND l.ended_at IS NULL) AS legs_up
            FROM interactions i WHERE call_id = $1
            """,
            call_id,
        )
        if row is not None and row["ended_at"] is not None and row["legs_up"] == 0:
            return row
        await asyncio.sleep(0.05)
    raise AssertionError(f"call {call_id} not recorded as ended within {seconds} s: {row}")


async def legs_by_agent(pool: asyncpg.Pool, call_id: str) -> dict[str, asyncpg.Record]:
    rows = await pool.fetch(
        """
        SELECT a.name AS agent, l.* FROM interaction_legs l
        JOIN agents a ON a.id = l.agent_id
        JOIN interactions i ON i.id = l.interaction_id
        WHERE i.call_id = $1 ORDER BY l.rang_at
        """,
        call_id,
    )
    legs = {row["agent"]: row for row in rows}
    assert len(legs) == len(rows), f"one leg per agent expected: {rows}"
    return legs
