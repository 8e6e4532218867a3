"""What the router leaves on Asterisk's channels, on a real Asterisk 22: personal data only on
the agent's leg, and every value short enough for the AGI line that carries it."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import urllib.request
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from structlog.testing import capture_logs

from devkit.demo import seed_demo
from devkit.sandbox.asterisk import LocalAsterisk
from devkit.sandbox.stack import Sandbox
from sticky_router.process.agi_process import AgiProcess
from sticky_router.process.router import Router
from sticky_router.routing_core.settings import Scope
from sticky_router.routing_core.store.settings_store import set_setting
from testkit.sip_log import received
from testkit.sipp import assert_calls_succeeded
from tests.e2e.conftest import quiet
from tests.e2e.phones import AgentPhones, call
from tests.e2e.records import settled

IVAN = "79123456701"  # demo data: ticket T-1001, last agent agent2
SHARED = "79990000088"  # a switchboard number: hundreds of customers behind it


def channels(asterisk: LocalAsterisk) -> list[dict[str, Any]]:
    request = urllib.request.Request(
        f"{asterisk.ari_url}/channels",
        headers={"Authorization": asterisk.ari_credentials.basic_auth()},
    )
    with urllib.request.urlopen(request, timeout=2) as response:
        return list(json.load(response))


async def callers_names_during(asterisk: LocalAsterisk, placing: asyncio.Task[Any]) -> set[str]:
    """The caller-ID names Asterisk holds for the caller's channel while the call is up."""
    names: set[str] = set()
    while not placing.done():
        for channel in await asyncio.to_thread(channels, asterisk):
            if channel["name"].startswith("PJSIP/callers-"):
                names.add(channel["caller"]["name"])
        await asyncio.sleep(0.1)
    return names


async def place_named_call(
    asterisk: LocalAsterisk, pool: asyncpg.Pool, phone_logs: Path, dialled: str
) -> None:
    """callerid_name_prefix shows `[T-1001] Ivan Petrov` on phones without a screen. Set on the
    caller's channel, it went into the caller's CDR and CEL rows (and to any party the caller
    is later connected to); it belongs on the agent's leg only."""
    await set_setting(
        pool, scope=Scope.GLOBAL, scope_value=None, key="callerid_name_prefix", value=True,
        actor="security",
    )  # fmt: skip
    with AgentPhones(asterisk, phone_logs, {"agent2": "uas_answer.xml"}):
        placing = asyncio.create_task(
            call(asterisk, phone_logs, caller_id=IVAN, hold_ms=2500, dialled=dialled)
        )
        names = await callers_names_during(asterisk, placing)
        assert_calls_succeeded(await placing)
    [invite] = received(phone_logs / "agent2.messages.log")
    assert invite.from_display_name == "[T-1001] Ivan Petrov"  # the agent's phone shows it
    assert names, "the caller's channel was never seen"
    assert not any("T-1001" in name or "Ivan" in name for name in names), names


@pytest.mark.usefixtures("fresh")
async def test_the_ticket_and_name_go_to_the_agents_phone_never_onto_the_callers_channel(
    asterisk: LocalAsterisk, pool: asyncpg.Pool, phone_logs: Path
) -> None:
    await place_named_call(asterisk, pool, phone_logs, "74950000000")


@pytest.mark.usefixtures("agi")
async def test_the_same_in_agi_mode(
    asterisk: LocalAsterisk, pool: asyncpg.Pool, phone_logs: Path
) -> None:
    await place_named_call(asterisk, pool, phone_logs, "agi")


@pytest.fixture
async def patient_agi(
    sandbox: Sandbox, router: Router, pool: asyncpg.Pool, asterisk: LocalAsterisk
) -> AsyncIterator[AgiProcess]:
    """The `agi` fixture's FastAGI server with a 5 s database budget: reading 3000 customers
    takes 60-150 ms on an idle 2-core machine (measured), and past the usual 300 ms on a loaded
    one the lookup would answer db_timeout without ever sending the long line under test."""
    if router.running:
        await router.stop()
    await quiet(asterisk)
    await seed_demo(pool, datetime.now(UTC), reset=True)
    settings = dataclasses.replace(sandbox.agi_settings(), db_budget_seconds=5.0)
    async with AgiProcess(settings) as process:
        yield process
    await quiet(asterisk)


async def test_a_number_shared_by_hundreds_of_customers_is_still_served(
    patient_agi: AgiProcess, asterisk: LocalAsterisk, pool: asyncpg.Pool, phone_logs: Path
) -> None:
    """3000 customers behind one number: their ids alone make a SET VARIABLE line of ~15 KB,
    which Asterisk 22 cuts and reads as a broken command (`510`, measured), losing the rest of
    the exchange. The call must still get every variable and reach the queue."""
    await pool.execute(
        """
        WITH made AS (
            INSERT INTO customers (name) SELECT 'Switchboard customer ' || n
            FROM generate_series(1, 3000) n RETURNING id)
        INSERT INTO phone_numbers (e164, customer_id) SELECT $1, id FROM made
        """,
        "+" + SHARED,
    )
    with (
        AgentPhones(asterisk, phone_logs, {"agent1": "uas_answer.xml"}) as phones,
        capture_logs() as logs,
    ):
        result = await call(asterisk, phone_logs, caller_id=SHARED, dialled="agi", hold_ms=1000)
        assert_calls_succeeded(result)
    assert phones.rung()["agent1"] == 1  # the queue's agent took it
    # Every variable was set: Asterisk understood each command.
    troubles = [line for line in logs if line["log_level"] in ("warning", "error")]
    assert troubles == []
    assert await patient_agi.quiesce(5)
    row = await settled(pool, SHARED)
    assert (row["route"], row["route_reason"]) == ("queue", "ambiguous_caller")
