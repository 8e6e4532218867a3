"""Is the agent really free? Device state, queue membership and pause, before anything is played.

routing.md: ring only an agent who is logged in to the queue, not paused, and whose device is not
in use, ringing or on hold. Busy may be waited for (a setting); paused, logged out or unreachable
never are.
"""

from __future__ import annotations

import asyncio
from enum import StrEnum

from ari_app.client import AriClient, AriError, segment

FREE_STATES = frozenset({"NOT_INUSE"})
BUSY_STATES = frozenset({"INUSE", "BUSY", "RINGING", "RINGINUSE", "ONHOLD"})
POLL_INTERVAL = 0.25


class Availability(StrEnum):
    FREE = "free"
    BUSY = "busy"
    PAUSED = "paused"
    OFFLINE = "offline"


async def device_state(client: AriClient, endpoint: str) -> str:
    state = await client.request("GET", f"/deviceStates/{segment(endpoint)}")
    return str(state.get("state", "UNKNOWN"))


async def queue_member_paused(
    client: AriClient, channel_id: str, queue: str, endpoint: str
) -> bool | None:
    """True/False for a member of `queue`, None when the agent is not in the queue at all."""
    expression = f"QUEUE_MEMBER({queue},paused,{endpoint})"
    try:
        answer = await client.request(
            "GET", f"/channels/{segment(channel_id)}/variable", params={"variable": expression}
        )
    except AriError:
        return None  # Asterisk refuses the function for a non-member
    value = str(answer.get("value", "")).strip()
    if value not in ("0", "1"):
        return None
    return value == "1"


async def check_availability(
    client: AriClient, channel_id: str, endpoint: str, queue: str
) -> Availability:
    state, paused = await asyncio.gather(
        device_state(client, endpoint), queue_member_paused(client, channel_id, queue, endpoint)
    )
    if paused is None:
        return Availability.OFFLINE  # left the queue: never a target
    if paused:
        return Availability.PAUSED
    if state in FREE_STATES:
        return Availability.FREE
    if state in BUSY_STATES:
        return Availability.BUSY
    return Availability.OFFLINE


async def wait_until_free(
    client: AriClient, endpoint: str, seconds: float, caller_gone: asyncio.Event
) -> Availability:
    """Wait up to `seconds` for a busy agent to come free, giving up if the caller hangs up.

    Polls the device state: a quarter-second poll costs one cheap REST call and cannot miss a
    state change the way a subscription lost across a reconnect could.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while loop.time() < deadline and not caller_gone.is_set():
        state = await device_state(client, endpoint)
        if state in FREE_STATES:
            return Availability.FREE
        if state not in BUSY_STATES:
            return Availability.OFFLINE
        await asyncio.sleep(POLL_INTERVAL)
    return Availability.BUSY
