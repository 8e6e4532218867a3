"""Two routers for one Asterisk (issue 17): StasisBroadcast offers each caller to both, the first
to claim takes it, and either one alone routes every call.

The sandbox's dialplan broadcasts while the global STICKY_BROADCAST_MS is set; the suite's router
(application `sticky-router`) and a second one (`sticky-router-2`, its own journal) both run
in this process, on the same Asterisk and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from structlog.testing import capture_logs

from devkit.sandbox.asterisk import LocalAsterisk
from devkit.sandbox.asterisk_config import ARI_APP
from devkit.sandbox.stack import Sandbox
from sticky_router.ari_app.channels import AriChannels
from sticky_router.ari_app.client import AriClient
from sticky_router.process.router import Router
from testkit.sipp import assert_calls_succeeded
from tests.e2e.phones import AgentPhones, call
from tests.e2e.records import settled

IVAN = "79123456701"  # last spoke with agent2 42 minutes ago

pytestmark = pytest.mark.usefixtures("fresh")


@pytest.fixture
def broadcast(asterisk: LocalAsterisk) -> Iterator[None]:
    asterisk.cli("dialplan set global STICKY_BROADCAST_MS 400")
    yield
    asterisk.cli('dialplan set global STICKY_BROADCAST_MS ""')


@pytest.fixture
async def second_router(sandbox: Sandbox, broadcast: None) -> AsyncIterator[Router]:
    settings = dataclasses.replace(
        sandbox.router_settings(), ari_app="sticky-router-2",
        journal_path=sandbox.journal_dir / "router-2.journal",
    )  # fmt: skip
    router = Router(settings)
    await router.start()
    await router.wait_connected(10)
    yield router
    await router.stop()


async def ivan_reaches_agent2(
    asterisk: LocalAsterisk, pool: asyncpg.Pool, logs: Path
) -> asyncpg.Record:
    with AgentPhones(asterisk, logs, {"agent2": "uas_answer.xml"}) as phones:
        assert_calls_succeeded(await call(asterisk, logs, caller_id=IVAN))
        assert phones.rung()["agent2"] == 1
    return await settled(pool, IVAN)


async def test_both_routers_are_offered_the_call_and_one_takes_it(
    second_router: Router, asterisk: LocalAsterisk, pool: asyncpg.Pool, phone_logs: Path
) -> None:
    with capture_logs() as logs:
        recorded = await ivan_reaches_agent2(asterisk, pool, phone_logs)
    assert (recorded["route"], recorded["outcome"]) == ("sticky", "sticky")
    claims = sorted(
        entry["event"] for entry in logs
        if entry["event"] in ("broadcast_claimed", "broadcast_lost")
        and entry.get("call_id") == recorded["call_id"]
    )  # fmt: skip
    assert claims == ["broadcast_claimed", "broadcast_lost"]
    decided = [e for e in logs if e["event"] == "routing_decision"]
    assert [e["call_id"] for e in decided] == [recorded["call_id"]]


async def test_with_one_router_stopped_the_other_routes_every_call(
    router: Router, second_router: Router, asterisk: LocalAsterisk, pool: asyncpg.Pool,
    phone_logs: Path,
) -> None:  # fmt: skip
    await router.stop()  # the suite's `fresh` starts it again for the next test
    recorded = await ivan_reaches_agent2(asterisk, pool, phone_logs)
    assert (recorded["route"], recorded["outcome"]) == ("sticky", "sticky")


async def test_with_no_router_the_broadcast_times_out_and_the_queue_answers(
    router: Router, broadcast: None, asterisk: LocalAsterisk, pool: asyncpg.Pool,
    phone_logs: Path,
) -> None:  # fmt: skip
    await router.stop()
    with AgentPhones(asterisk, phone_logs, {"agent1": "uas_answer.xml"}) as phones:
        started = asyncio.get_running_loop().time()
        assert_calls_succeeded(await call(asterisk, phone_logs, caller_id=IVAN))
        assert phones.rung()["agent1"] == 1  # the queue's ringall found agent1
    assert asyncio.get_running_loop().time() - started > 0.4  # the broadcast waited it out
    assert "STASISSTATUS=TIMEOUT" in asterisk.log_file.read_text()


@contextlib.asynccontextmanager
async def doomed_router(asterisk: LocalAsterisk) -> AsyncIterator[asyncio.Event]:
    """`sticky-router-3`: claims every caller it is offered, then does nothing with them; it
    dies (its websocket closes) when the block ends. The event is set once it holds a caller."""
    ari = asterisk.ari_credentials
    held = asyncio.Event()
    url = f"http://127.0.0.1:{asterisk.http_port}"
    async with AriClient(url, ari.user, ari.password, "sticky-router-3") as doomed:

        async def claim_and_freeze(event: dict[str, Any]) -> None:
            if event.get("type") == "CallBroadcast":
                params = {"channelId": event["channel"]["id"], "application": doomed.app}
                await doomed.request("POST", "/events/claim", params=params)
            elif event.get("type") == "StasisStart":
                held.set()

        async def nothing() -> None:
            return None

        events = asyncio.create_task(doomed.run_events(claim_and_freeze, nothing))
        await asyncio.wait_for(doomed.connected.wait(), 10)
        try:
            yield held
        finally:
            events.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await events


async def held_by_router_3(asterisk: LocalAsterisk) -> list[str]:
    ari = asterisk.ari_credentials
    url = f"http://127.0.0.1:{asterisk.http_port}"
    async with AriClient(url, ari.user, ari.password, "sticky-router-3") as client:
        return [str(channel["id"]) for channel in await AriChannels(client).in_application()]


async def test_a_caller_left_by_a_router_that_died_after_its_claim_goes_to_the_queue(
    sandbox: Sandbox, router: Router, broadcast: None, asterisk: LocalAsterisk,
    phone_logs: Path,
) -> None:  # fmt: skip
    """A claimed caller's dialplan still names StasisBroadcast, not the router that won it:
    the sweep finds it by the application holding it. Here `sticky-router-3` claims the caller
    and dies before deciding; back, its first sweep sends the caller to the queue."""
    await router.stop()  # only the doomed router is offered the call
    agent1 = AgentPhones(asterisk, phone_logs, {"agent1": "uas_answer.xml"})
    with capture_logs() as logs, agent1:
        caller = asyncio.create_task(call(asterisk, phone_logs, caller_id=IVAN))
        async with doomed_router(asterisk) as held:
            await asyncio.wait_for(held.wait(), 10)
            [stranded] = await held_by_router_3(asterisk)
            ari = asterisk.ari_credentials
            url = f"http://127.0.0.1:{asterisk.http_port}"
            async with AriClient(url, ari.user, ari.password, ARI_APP) as other:
                assert stranded not in [c["id"] for c in await AriChannels(other).in_application()]
        back = Router(dataclasses.replace(
            sandbox.router_settings(), ari_app="sticky-router-3",
            journal_path=sandbox.journal_dir / "router-3.journal",
        ))  # fmt: skip
        await back.start()
        try:
            await back.wait_connected(10)
            assert_calls_succeeded(await caller)
        finally:
            await back.stop()
    swept = [e["call_id"] for e in logs if e["event"] == "resync_orphan_to_queue"]
    assert swept == [stranded]


async def test_the_other_router_rescues_the_caller_of_a_router_that_stopped_beating(
    router: Router, broadcast: None, asterisk: LocalAsterisk, pool: asyncpg.Pool,
    phone_logs: Path,
) -> None:  # fmt: skip
    """`sticky-router-3` beat once, claimed a caller and died: once its heartbeat is older than
    6 s, the suite's router takes the caller (two sweeps in a row, 5 s apart) to the queue."""
    await pool.execute(
        "INSERT INTO router_heartbeats (app, alive_at) VALUES ('sticky-router-3', now())"
        " ON CONFLICT (app) DO UPDATE SET alive_at = now()"
    )
    agent1 = AgentPhones(asterisk, phone_logs, {"agent1": "uas_answer.xml"})
    with capture_logs() as logs, agent1:
        async with doomed_router(asterisk) as held:
            await router.stop()  # so that the doomed router wins the caller
            caller = asyncio.create_task(call(asterisk, phone_logs, caller_id=IVAN))
            await asyncio.wait_for(held.wait(), 10)
            [stranded] = await held_by_router_3(asterisk)
            await router.start()
            await router.wait_connected(10)
        assert_calls_succeeded(await asyncio.wait_for(caller, 40))
    swept = [e["call_id"] for e in logs if e["event"] == "resync_orphan_to_queue"]
    assert swept == [stranded]
    await pool.execute("DELETE FROM router_heartbeats WHERE app = 'sticky-router-3'")
