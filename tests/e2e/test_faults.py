"""Faults around a real call: a database that stops answering, an Asterisk that restarts.

Whatever breaks, the caller reaches a person: the queue when in doubt.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
import asyncpg
import pytest

from devkit.sandbox.asterisk import LocalAsterisk
from devkit.sandbox.asterisk_config import ARI_APP
from sticky_router.ari_app.app import HANDLED_EVENTS
from sticky_router.ari_app.client import REST_RESPONSE
from sticky_router.process.router import Router
from testkit.sipp import assert_calls_succeeded
from tests.e2e.phones import AgentPhones, call

IVAN = "79123456701"

pytestmark = pytest.mark.usefixtures("fresh")


async def test_a_database_that_stops_answering_sends_the_caller_to_the_queue(
    asterisk: LocalAsterisk, pool: asyncpg.Pool, phone_logs: Path
) -> None:
    """A lock on the history (a migration, a runaway report) holds every query of the decision:
    after the 300 ms budget the caller goes to the queue, where agent1 answers."""
    async with pool.acquire() as locker, locker.transaction():
        await locker.execute("LOCK TABLE interactions IN ACCESS EXCLUSIVE MODE")
        with AgentPhones(asterisk, phone_logs, {"agent1": "uas_answer.xml"}) as phones:
            result = await call(asterisk, phone_logs, caller_id=IVAN, hold_ms=1000)
            assert_calls_succeeded(result)
    # The queue rings every free agent at once; a sticky attempt would have rung agent2 alone.
    assert phones.rung() == {"agent1": 1, "agent2": 1, "agent3": 1, "agent4": 1}


async def test_the_router_reconnects_after_asterisk_restarts(
    asterisk: LocalAsterisk, pool: asyncpg.Pool, phone_logs: Path, router: Router
) -> None:
    # The same credentials after the restart, as with a real Asterisk and its ari.conf.
    asterisk.ari = asterisk.ari_credentials
    asterisk.ami = asterisk.ami_credentials
    assert connection_gauges(router) == {"ari": 1.0, "ami": 1.0}
    await asyncio.to_thread(asterisk.stop)
    await asyncio.sleep(1)
    assert not (await _connected(router))
    assert connection_gauges(router) == {"ari": 0.0, "ami": 0.0}  # what an alert watches
    await asyncio.to_thread(asterisk.start)
    await router.wait_connected(15)  # capped backoff: at most 5 s between attempts
    assert connection_gauges(router) == {"ari": 1.0, "ami": 1.0}
    # A new Asterisk knows no event filter: the router sets it again on reconnecting.
    assert await events_asterisk_sends(asterisk) == {*HANDLED_EVENTS, REST_RESPONSE}
    with AgentPhones(asterisk, phone_logs, {"agent2": "uas_answer.xml"}) as phones:
        result = await call(asterisk, phone_logs, caller_id=IVAN, hold_ms=1000)
        assert_calls_succeeded(result)
    assert phones.rung() == {"agent1": 0, "agent2": 1, "agent3": 0, "agent4": 0}


async def test_asterisk_sends_the_router_only_the_events_it_handles(
    asterisk: LocalAsterisk,
) -> None:
    """Not every step of the dialplan of a caller the router watches (ChannelVarset and
    ChannelDialplan for each), which Asterisk would serialise before the agent's phone rings.
    The answers to its REST calls over the websocket pass the same filter."""
    assert await events_asterisk_sends(asterisk) == {*HANDLED_EVENTS, REST_RESPONSE}


async def events_asterisk_sends(asterisk: LocalAsterisk) -> set[str] | None:
    """The router's application's event filter as Asterisk holds it (None: no filter), once
    the router has set it after connecting (within 3 s)."""
    url = f"http://127.0.0.1:{asterisk.http_port}/ari/applications/{ARI_APP}"
    headers = {"Authorization": asterisk.ari_credentials.basic_auth()}
    allowed: set[str] | None = None
    async with aiohttp.ClientSession(headers=headers) as session:
        for _ in range(30):
            async with session.get(url) as response:
                application = await response.json()
            allowed = {event["type"] for event in application.get("events_allowed", [])} or None
            if allowed is not None:
                break
            await asyncio.sleep(0.1)
    return allowed


def connection_gauges(router: Router) -> dict[str, float | None]:
    """`sticky_router_connected` as a scrape would read it."""
    registry = router.metrics.registry
    return {
        part: registry.get_sample_value("sticky_router_connected", {"part": part})
        for part in ("ari", "ami")
    }


async def _connected(router: Router) -> bool:
    try:
        await router.wait_connected(0.1)
    except TimeoutError:
        return False
    return True
