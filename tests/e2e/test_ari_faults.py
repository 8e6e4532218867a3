"""ARI failing under a live call: the caller still reaches a person, within a bounded time.

The router talks to Asterisk through a fault-injecting proxy (tests/e2e/ari_proxy.py): a 500
where the caller is handed over, requests that hang past the client's timeout, the event
websocket cut while the agent rings. Ivan's callback would ring agent2 alone; the queue rings
every free agent at once.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
import structlog

from devkit.sandbox.asterisk import LocalAsterisk
from devkit.sandbox.stack import Sandbox
from sticky_router.process.router import Router
from testkit.sipp import assert_calls_succeeded
from tests.e2e.ari_proxy import FaultyAri
from tests.e2e.phones import AgentPhones, call
from tests.e2e.records import legs, settled

IVAN = "79123456701"
CONTINUE = r"^/ari/channels/[^/]+/continue$"
VARIABLE = r"^/ari/channels/[^/]+/variable$"
EVENT_FILTER = r"^/ari/applications/[^/]+/eventFilter$"

pytestmark = pytest.mark.usefixtures("fresh")


@pytest.fixture
async def proxy(sandbox: Sandbox, router: Router) -> AsyncIterator[FaultyAri]:
    """A router of its own behind the proxy, instead of the session's (restarted after)."""
    await router.stop()
    faulty = FaultyAri(f"http://127.0.0.1:{sandbox.asterisk.http_port}")
    url = await faulty.start()
    behind = Router(dataclasses.replace(sandbox.router_settings(), ari_url=url, web=None))
    await behind.start()
    try:
        await behind.wait_connected(10)
        yield faulty
    finally:
        await behind.stop()
        await faulty.stop()
        await router.start()
        await router.wait_connected(10)


async def test_a_failed_hand_over_to_the_agent_sends_the_caller_to_the_queue(
    asterisk: LocalAsterisk, pool: asyncpg.Pool, phone_logs: Path, proxy: FaultyAri
) -> None:
    proxy.fail("POST", CONTINUE, times=1)  # the continue to sticky-ring answers 500
    with AgentPhones(asterisk, phone_logs, {"agent1": "uas_answer.xml"}) as phones:
        result = await call(asterisk, phone_logs, caller_id=IVAN, hold_ms=1000)
        assert_calls_succeeded(result)
    assert phones.rung() == {"agent1": 1, "agent2": 1, "agent3": 1, "agent4": 1}
    row = await settled(pool, IVAN)
    assert (row["route"], row["outcome"], row["outcome_reason"]) == (
        "sticky", "queue", "router_error"
    )  # fmt: skip
    claim = await pool.fetchval(
        "SELECT outcome FROM sticky_claims WHERE call_id = $1", row["call_id"]
    )
    assert claim == "router_error"  # agent2 is free for the next callback at once


async def test_the_routers_rest_calls_travel_on_its_event_websocket(
    asterisk: LocalAsterisk, phone_logs: Path, proxy: FaultyAri
) -> None:
    """Asterisk 22 answers REST calls on the event websocket, so a sticky call's checks and
    its hand-over go there (and the faults of the tests here hit them there)."""
    with AgentPhones(asterisk, phone_logs, {"agent2": "uas_answer.xml"}) as phones:
        result = await call(asterisk, phone_logs, caller_id=IVAN, hold_ms=500)
        assert_calls_succeeded(result)
    assert phones.rung()["agent2"] == 1
    moves = [path for path in proxy.over_websocket if path.endswith("/continue")]
    assert len(moves) == 1
    # ... and no continue over HTTP besides (`requests` holds both ways).
    assert [path for _, path, _ in proxy.requests if path.endswith("/continue")] == moves


async def test_ari_hanging_during_the_agent_check_queues_the_caller_within_seconds(
    asterisk: LocalAsterisk, pool: asyncpg.Pool, phone_logs: Path, proxy: FaultyAri
) -> None:
    """The membership and pause reads hang (the client gives up after 2 s): no ring of agent2,
    the queue instead, a few seconds after the call came in."""
    proxy.hold("GET", VARIABLE, seconds=8, times=2)
    started = time.monotonic()
    with AgentPhones(asterisk, phone_logs, {"agent1": "uas_answer.xml"}) as phones:
        result = await call(asterisk, phone_logs, caller_id=IVAN, hold_ms=1000)
        assert_calls_succeeded(result)
    agent1_rang = phones.requests("agent1")[0].at.timestamp()
    # The queue rang everyone once (ringall); a sticky attempt would have rung agent2 first.
    assert phones.rung() == {"agent1": 1, "agent2": 1, "agent3": 1, "agent4": 1}
    row = await settled(pool, IVAN)
    assert (row["outcome"], row["outcome_reason"]) == ("queue", "router_error")
    # From the call's start: a 2 s client timeout, then the queue at once.
    call_started = row["started_at"].timestamp()
    assert agent1_rang - call_started < 4.0
    assert time.monotonic() - started < 30


async def test_a_caller_whose_every_move_fails_is_handed_back_by_the_sweep(
    asterisk: LocalAsterisk, pool: asyncpg.Pool, phone_logs: Path, proxy: FaultyAri
) -> None:
    """The hand-over and both tries of the way out fail: the caller is left in the
    application. The periodic sweep (every 5 s, undriven twice in a row) sends them on."""
    proxy.fail("POST", CONTINUE, times=3)
    with AgentPhones(asterisk, phone_logs, {"agent1": "uas_answer.xml"}) as phones:
        result = await call(asterisk, phone_logs, caller_id=IVAN, hold_ms=1000)
        assert_calls_succeeded(result)
    row = await settled(pool, IVAN)
    agent1_rang = phones.requests("agent1")[0].at.timestamp()
    waited = agent1_rang - row["started_at"].timestamp()
    assert 3 < waited < 13, waited  # two sweeps of 5 s at the most, not at once, not never
    moves = [status for method, path, status in proxy.requests if path.endswith("/continue")]
    assert moves == [500, 500, 500, 204]


async def test_events_cut_while_the_agent_rings_leave_the_call_and_its_record_whole(
    asterisk: LocalAsterisk, pool: asyncpg.Pool, phone_logs: Path, proxy: FaultyAri
) -> None:
    """The event websocket drops after the hand-over: the call is the dialplan's, so Ivan and
    agent2 talk on; what the router no longer hears, the AMI learner records."""
    scenarios = {"agent2": "uas_answer.xml"}
    with AgentPhones(asterisk, phone_logs, scenarios, ring_ms={"agent2": 1500}) as phones:
        # The announcement answers the caller: hold long enough to outlast the ring.
        caller = asyncio.create_task(call(asterisk, phone_logs, caller_id=IVAN, hold_ms=5000))
        for _ in range(100):
            if phones.requests("agent2"):
                break
            await asyncio.sleep(0.05)
        await proxy.cut_events()
        assert_calls_succeeded(await caller)
    assert phones.rung() == {"agent1": 0, "agent2": 1, "agent3": 0, "agent4": 0}
    row = await settled(pool, IVAN)
    assert row["ended_at"] is not None
    assert row["hangup_side"] == "caller"
    [leg] = await legs(pool, row["id"])
    assert (leg["agent"], leg["answered_at"] is not None) == ("agent2", True)


async def test_an_asterisk_that_refuses_the_event_filter_still_routes_every_call(
    sandbox: Sandbox, router: Router, asterisk: LocalAsterisk, pool: asyncpg.Pool,
    phone_logs: Path,
) -> None:  # fmt: skip
    """An Asterisk without eventFilter (older than the router expects) answers 405: the router
    says so once and works as before, only receiving every event."""
    await router.stop()
    faulty = FaultyAri(f"http://127.0.0.1:{sandbox.asterisk.http_port}")
    faulty.fail("PUT", EVENT_FILTER, times=1, status=405)
    url = await faulty.start()
    behind = Router(dataclasses.replace(sandbox.router_settings(), ari_url=url, web=None))
    try:
        with structlog.testing.capture_logs() as logs:
            await behind.start()
            await behind.wait_connected(10)
            with AgentPhones(asterisk, phone_logs, {"agent2": "uas_answer.xml"}) as phones:
                assert_calls_succeeded(await call(asterisk, phone_logs, caller_id=IVAN))
    finally:
        await behind.stop()
        await faulty.stop()
        await router.start()
        await router.wait_connected(10)
    assert phones.rung() == {"agent1": 0, "agent2": 1, "agent3": 0, "agent4": 0}
    assert [entry["event"] for entry in logs].count("ari_event_filter_refused") == 1
    row = await settled(pool, IVAN)
    assert (row["route"], row["outcome"]) == ("sticky", "sticky")
