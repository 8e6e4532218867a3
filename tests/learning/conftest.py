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
import itertools
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest

from sticky_router.ami.connection import AmiLearner, AmiSettings
from sticky_router.process import database
from sticky_router.process.demo import seed_demo
from sticky_router.process.journaling import Journaling
from sticky_router.process.sandbox.asterisk import (
    AGENTS,
    SUPPORT_QUEUE,
    LocalAsterisk,
    throwaway_asterisk,
)
from sticky_router.process.sandbox.postgres import LocalPostgres, throwaway_postgres
from sticky_router.routing_core import CallRecorder, IncomingCall
from sticky_router.routing_core.caller_key import keys_in_priority

AMI_WAIT = 15.0


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


class AmiClient:
    """A plain AMI client for the tests (not the code under test): actions, and the events
    since it connected."""

    _ids = itertools.count(1)

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader, self._writer = reader, writer
        self.events: list[dict[str, str]] = []
        self._replies: dict[str, asyncio.Future[dict[str, str]]] = {}
        self._arrived = asyncio.Event()
        self._task = asyncio.get_running_loop().create_task(self._read())

    @classmethod
    async def connect(cls, asterisk: LocalAsterisk) -> AmiClient:
        reader, writer = await asyncio.open_connection("127.0.0.1", asterisk.ami_port)
        await reader.readline()  # Asterisk Call Manager/x.y.z
        client = cls(reader, writer)
        credentials = asterisk.ami_driver_credentials  # the router's user may only read
        reply = await client.action(
            "Login", Username=credentials.user, Secret=credentials.password, Events="call,agent"
        )
        assert reply.get("Response") == "Success", reply
        return client

    async def action(self, name: str, **fields: str) -> dict[str, str]:
        if self._task.done():
            raise ConnectionResetError("the AMI connection is closed")
        action_id = f"test-{next(self._ids)}"
        reply: asyncio.Future[dict[str, str]] = asyncio.get_running_loop().create_future()
        self._replies[action_id] = reply
        lines = [f"Action: {name}", f"ActionID: {action_id}"]
        lines += [f"{key}: {value}" for key, value in fields.items()]
        self._writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
        async with asyncio.timeout(AMI_WAIT):
            return await reply

    async def pause(self, *agents: str, paused: bool = True) -> None:
        for agent in agents:
            reply = await self.action(
                "QueuePause", Interface=f"PJSIP/{agent}", Queue=SUPPORT_QUEUE,
                Paused="true" if paused else "false",
            )  # fmt: skip
            assert reply.get("Response") == "Success", reply

    async def event(self, kind: str, **fields: str) -> dict[str, str]:
        """The first event of this kind since connecting whose fields start with these values
        (`DestChannel="PJSIP/agent1-"`)."""

        def matches(event: dict[str, str]) -> bool:
            return event.get("Event") == kind and all(
                event.get(key, "").startswith(value) for key, value in fields.items()
            )

        return await self.wait_for(matches, f"{kind} {fields}")

    async def wait_for(
        self, matches: Callable[[dict[str, str]], bool], what: str
    ) -> dict[str, str]:
        seen = 0
        try:
            async with asyncio.timeout(AMI_WAIT):
                while True:
                    for event in self.events[seen:]:
                        if matches(event):
                            return event
                    seen = len(self.events)
                    self._arrived.clear()
                    await self._arrived.wait()
        except TimeoutError:
            raise AssertionError(f"no AMI event {what} within {AMI_WAIT} s") from None

    async def close(self) -> None:
        self._task.cancel()
        self._writer.close()
        with contextlib.suppress(Exception):
            await self._writer.wait_closed()

    async def _read(self) -> None:
        with contextlib.suppress(asyncio.IncompleteReadError, OSError):
            await self._read_messages()
        for reply in self._replies.values():
            if not reply.done():
                reply.set_exception(ConnectionResetError("the AMI connection closed"))

    async def _read_messages(self) -> None:
        while True:
            block = (await self._reader.readuntil(b"\r\n\r\n")).decode(errors="replace")
            message: dict[str, str] = {}
            for line in block.split("\r\n"):
                key, sep, value = line.partition(": ")
                if sep:
                    message.setdefault(key, value)
            if "Response" in message:
                reply = self._replies.pop(message.get("ActionID", ""), None)
                if reply is not None and not reply.done():
                    reply.set_result(message)
            elif "Event" in message:
                self.events.append(message)
                self._arrived.set()


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
