"""What a call left behind: its recorded interaction and legs, and Asterisk's view of the
agents' devices and channels. Shared by the ARI-mode and AGI-mode end-to-end tests."""

from __future__ import annotations

import asyncio
import json
import urllib.request
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote

import asyncpg

from devkit.sandbox.asterisk import LocalAsterisk


async def interaction(pool: asyncpg.Pool, number: str) -> asyncpg.Record:
    """The one interaction recorded for calls from `number` during the test."""
    rows = await pool.fetch(
        "SELECT * FROM interactions WHERE caller_number = $1 AND call_id NOT LIKE 'demo-%'"
        " ORDER BY started_at",
        "+" + number,
    )
    found = "; ".join(
        f"{row['call_id']} {row['route']}/{row['route_reason']} at {row['started_at']:%T.%f}"
        for row in rows
    )
    assert len(rows) == 1, f"expected one recorded call from {number}, found {found or 'none'}"
    return rows[0]


async def legs(pool: asyncpg.Pool, interaction_id: int) -> list[dict[str, Any]]:
    rows = await pool.fetch(
        "SELECT a.name AS agent, l.* FROM interaction_legs l JOIN agents a ON a.id = l.agent_id"
        " WHERE l.interaction_id = $1 ORDER BY l.rang_at",
        interaction_id,
    )
    return [dict(row) for row in rows]


async def settled(pool: asyncpg.Pool, number: str) -> asyncpg.Record:
    """The interaction once its end is recorded (the last records trail the SIP messages)."""
    for _ in range(50):
        row = await interaction(pool, number)
        if row["ended_at"] is not None:
            return row
        await asyncio.sleep(0.1)
    return row


async def agent_channel(asterisk: LocalAsterisk, agent: str) -> str:
    """The name of the (only) channel up on the agent's endpoint."""
    shown = await asyncio.to_thread(asterisk.cli, "core show channels concise")
    names = [
        line.split("!")[0] for line in shown.splitlines() if line.startswith(f"PJSIP/{agent}-")
    ]
    assert len(names) == 1, shown
    return names[0]


async def wait_for_device(asterisk: LocalAsterisk, device: str, *states: str) -> None:
    """Wait until Asterisk reports the device in one of `states` (INUSE, BUSY, RINGING...)."""
    url = f"http://127.0.0.1:{asterisk.http_port}/ari/deviceStates/{quote(device, safe='')}"
    request = urllib.request.Request(
        url, headers={"Authorization": asterisk.ari_credentials.basic_auth()}
    )

    def read_state() -> str:
        with urllib.request.urlopen(request, timeout=2) as response:
            return str(json.load(response)["state"])

    shown = None
    for _ in range(100):
        shown = await asyncio.to_thread(read_state)
        if shown in states:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"{device} never reached {states}; last seen {shown}")


async def until(check: Callable[[], Awaitable[object]], seconds: float) -> None:
    """Until `check()` comes back truthy, looked at ten times a second, at most `seconds`."""
    for _ in range(int(seconds * 10)):
        if await check():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"not within {seconds} s")


async def sticky_lines(asterisk: LocalAsterisk, call_id: str) -> list[list[str]]:
    """The STICKY* lines sticky-ring wrote to Asterisk's queue_log for one call, split into
    `time|callid|queue|agent|event|data...`."""
    path = asterisk.instance_dir / "log" / "queue_log"
    text = await asyncio.to_thread(path.read_text)
    lines = [line.split("|") for line in text.splitlines()]
    return [fields for fields in lines if fields[1:2] == [call_id] and "STICKY" in fields[4]]
