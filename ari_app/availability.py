"""Is the agent really free? Device state, queue membership and pause, before anything is played.

routing.md: ring only an agent who is logged in to the queue, not paused, and whose device is not
in use, ringing or on hold. Busy may be waited for (a setting); paused, logged out or unreachable
never are.
"""

from __future__ import annotations

import asyncio
import contextlib
from enum import StrEnum

from ari_app.client import AriClient, AriError, segment

FREE_STATES = frozenset({"NOT_INUSE"})
BUSY_STATES = frozenset({"INUSE", "BUSY", "RINGING", "RINGINUSE", "ONHOLD"})
RECHECK_SECONDS = 1.0


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


class DeviceWatch:
    """Wakes waiters when Asterisk reports a device state change (DeviceStateChanged events of
    the devices the application subscribed to)."""

    def __init__(self) -> None:
        self._waiters: dict[str, set[asyncio.Event]] = {}

    def changed(self, device: str) -> None:
        for waiter in self._waiters.get(device, ()):
            waiter.set()

    def register(self, device: str) -> asyncio.Event:
        waiter = asyncio.Event()
        self._waiters.setdefault(device, set()).add(waiter)
        return waiter

    def unregister(self, device: str, waiter: asyncio.Event) -> None:
        waiters = self._waiters.get(device)
        if waiters is not None:
            waiters.discard(waiter)
            if not waiters:
                del self._waiters[device]


async def wait_until_free(
    client: AriClient,
    watch: DeviceWatch,
    endpoint: str,
    seconds: float,
    caller_gone: asyncio.Event,
) -> Availability:
    """Wait up to `seconds` for a busy agent to come free, giving up if the caller hangs up.

    Woken by device-state events; the state is also re-read every RECHECK_SECONDS, because a
    subscription made just before a websocket reconnect can be lost without a word.
    """
    source = f"deviceState:{endpoint}"
    subscription = f"/applications/{segment(client.app)}/subscription"
    waiter = watch.register(endpoint)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    try:
        await client.request("POST", subscription, params={"eventSource": source})
        while not caller_gone.is_set():
            # Cleared before the state is read, so a change reported while we read it still
            # wakes us below instead of being lost.
            waiter.clear()
            state = await device_state(client, endpoint)
            if state in FREE_STATES:
                return Availability.FREE
            if state not in BUSY_STATES:
                return Availability.OFFLINE
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(min(remaining, RECHECK_SECONDS)):
                    await waiter.wait()
        return Availability.BUSY
    finally:
        watch.unregister(endpoint, waiter)
        with contextlib.suppress(AriError, OSError, TimeoutError):
            await client.request("DELETE", subscription, params={"eventSource": source})
