"""Outage mode by itself (issue 16), on a real Asterisk 22: callers pile up in the support queue
(every agent paused, as on a bad day when nobody can take them fast enough), Asterisk reports
them over AMI, and an outage starts by itself for the queue: Ivan's callback then goes to the
queue (`outage`) instead of waiting for agent2. Once the callers are gone and the queue has
stayed calm for the clear time, it ends by itself and Ivan is sticky again. Watched by the ARI
router's AMI connection, or by a FastAGI server's own.

The thresholds are tiny so the test is short: 2 callers waiting, the longest 5 s; 5 s calm.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from devkit.sandbox.asterisk import LocalAsterisk
from devkit.sandbox.stack import Sandbox
from sticky_router.ami.connection import AmiSettings
from sticky_router.process.agi_process import AgiProcess
from sticky_router.process.metrics import PrometheusObserver
from sticky_router.process.router import Router
from sticky_router.routing_core import IncomingCall, QueueDecision, RoutingService, StickyDecision
from sticky_router.routing_core.backlog_watch import AUTOMATIC, LOOK_EVERY
from sticky_router.routing_core.settings import Scope
from sticky_router.routing_core.store.incidents import NewIncident, declare
from sticky_router.routing_core.store.settings_store import set_setting
from testkit.sipp import SippPhone, assert_calls_succeeded
from tests.e2e.records import until

IVAN = "+79123456701"
CROWD = "79990000077"  # callers we know nothing of
CLEAR_SECONDS = 5
LONGEST_WAIT = 5


@pytest.fixture(params=["router", "fastagi"])
async def watcher(
    request: pytest.FixtureRequest, fresh_for_outage: None, sandbox: Sandbox, router: Router,
    asterisk: LocalAsterisk,
) -> AsyncIterator[PrometheusObserver]:  # fmt: skip
    """The process watching Asterisk's queues: the router (ARI mode), or, with the router
    stopped, a FastAGI server given AMI (FastAGI mode)."""
    if request.param == "router":
        yield router.metrics
        return
    await router.stop()
    credentials = asterisk.ami_credentials
    ami = AmiSettings("127.0.0.1", asterisk.ami_port, credentials.user, credentials.password)
    async with AgiProcess(dataclasses.replace(sandbox.agi_settings(), ami=ami)) as process:
        assert process.learner is not None
        await process.learner.wait_connected(10)
        yield process.metrics


@pytest.fixture
async def fresh_for_outage(fresh: object, pool: asyncpg.Pool, asterisk: LocalAsterisk) -> None:
    """Every agent paused in the support queue (callers wait), and the thresholds set on it."""
    for agent in ("agent1", "agent2", "agent3", "agent4"):
        await asyncio.to_thread(
            asterisk.cli, f"queue pause member {asterisk.member(agent)} queue support"
        )
    for key, value in (
        ("auto_outage_waiting_callers", 2),
        ("auto_outage_longest_wait_seconds", LONGEST_WAIT),
        ("auto_outage_clear_seconds", CLEAR_SECONDS),
    ):
        await set_setting(pool, scope=Scope.QUEUE, scope_value="support", key=key, value=value,
                          actor="e2e")  # fmt: skip


def crowd(asterisk: LocalAsterisk, logs: Path, hold_ms: int) -> SippPhone:
    """Three callers straight into the queue (which answers them with its music), each waiting
    `hold_ms` there before hanging up."""
    return SippPhone.caller(
        "uac.xml", asterisk, logs, dialled="queue", caller_id=CROWD, hold_ms=hold_ms,
        calls=3, timeout_s=60, name="crowd",
    )  # fmt: skip


async def automatic_incident(pool: asyncpg.Pool) -> asyncpg.Record | None:
    return await pool.fetchrow(
        "SELECT * FROM incidents WHERE started_by = $1 ORDER BY id DESC LIMIT 1", AUTOMATIC
    )


async def ivans_route(pool: asyncpg.Pool) -> str:
    """What a callback from Ivan would be decided now (a preview: nothing is claimed)."""
    routing = RoutingService(pool, default_region="RU", db_budget_seconds=2)
    call = IncomingCall(call_id="preview", caller_id=IVAN, at=await pool.fetchval("SELECT now()"),
                        queue="support", did="74950000000")  # fmt: skip
    decision = await routing.decide(call, claim=False)
    if isinstance(decision, QueueDecision):
        return decision.reason.value
    assert isinstance(decision, StickyDecision)
    return "sticky"


async def test_a_backlog_starts_an_outage_by_itself_and_calm_ends_it(
    watcher: PrometheusObserver, asterisk: LocalAsterisk, pool: asyncpg.Pool, phone_logs: Path
) -> None:
    assert await ivans_route(pool) == "sticky"
    waiting = asyncio.create_task(asyncio.to_thread(crowd(asterisk, phone_logs, 9000).run))
    await until(lambda: automatic_incident(pool), LONGEST_WAIT + 2 * LOOK_EVERY + 3)
    incident = await automatic_incident(pool)
    assert incident is not None
    assert (incident["scope_kind"], incident["scope_value"]) == ("queue", "support")
    assert incident["announce_sound"] is None  # a backlog is no proof: callers hear nothing
    assert incident["description"].startswith("Backlog: 3 callers waiting")
    assert await ivans_route(pool) == "outage"
    await asyncio.sleep(LOOK_EVERY + 0.5)
    metrics = watcher.exposition()[0].decode()
    assert 'sticky_router_outages_in_force{started="automatic"} 1.0' in metrics
    audited = await pool.fetchval(
        "SELECT count(*) FROM settings_audit WHERE scope_kind = 'incident' AND actor = $1",
        AUTOMATIC,
    )
    assert audited == 1
    assert_calls_succeeded(await waiting)  # the three hang up: the queue is calm
    calm_from = await pool.fetchval("SELECT now()")

    async def ended() -> bool:
        at = await pool.fetchval("SELECT ended_at FROM incidents WHERE id = $1", incident["id"])
        return at is not None

    await until(ended, CLEAR_SECONDS + 2 * LOOK_EVERY + 3)
    row = await pool.fetchrow("SELECT * FROM incidents WHERE id = $1", incident["id"])
    assert row is not None
    assert row["ended_by"] == AUTOMATIC
    assert (row["ended_at"] - calm_from).total_seconds() >= CLEAR_SECONDS - 1  # not at once
    assert await ivans_route(pool) == "sticky"
    assert await pool.fetchval("SELECT count(*) FROM incidents") == 1  # started once


async def test_a_declared_outage_is_left_to_the_supervisor(
    watcher: PrometheusObserver, asterisk: LocalAsterisk, pool: asyncpg.Pool, phone_logs: Path
) -> None:
    async with pool.acquire() as connection, connection.transaction():
        declared = await declare(
            connection, NewIncident("queue", "support", "fibre cut", None, None), "admin:e2e"
        )
    assert_calls_succeeded(await asyncio.to_thread(crowd(asterisk, phone_logs, 7000).run))
    await asyncio.sleep(CLEAR_SECONDS + 2 * LOOK_EVERY)
    assert await automatic_incident(pool) is None  # none of its own beside the supervisor's
    ended = await pool.fetchval("SELECT ended_at FROM incidents WHERE id = $1", declared)
    assert ended is None  # and it never ends the supervisor's
