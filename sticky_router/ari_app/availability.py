"""Is the agent really free? The facts read through ARI, judged by routing_core.attempt.

routing.md: ring only an agent who is logged in to the queue, not paused, and whose device is not
in use, ringing or on hold. Busy may be waited for (a setting); paused, logged out or unreachable
never are.
"""

from __future__ import annotations

import asyncio
import contextlib

from sticky_router.ari_app.channels import AriUnavailable, ChannelGone, Channels
from sticky_router.routing_core.attempt import BUSY_STATES, FREE_STATES, Availability, availability

RECHECK_SECONDS = 1.0


async def check_availability(
    channels: Channels, channel_id: str, endpoint: str, queue: str, wrapping_up: bool = False
) -> Availability:
    """Membership and pause are evaluated on the caller's channel (dialplan functions need
    one); the device state is Asterisk's own; wrap-up comes from the recorded calls."""
    members, paused, state = await asyncio.gather(
        channels.read(channel_id, f"QUEUE_MEMBER_LIST({queue})"),
        channels.read(channel_id, f"QUEUE_MEMBER({queue},paused,{endpoint})"),
        channels.device_state(endpoint),
    )
    return availability(
        members=members,
        interface=endpoint,
        paused=paused,
        device_state=state,
        wrapping_up=wrapping_up,
    )


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
    channels: Channels,
    watch: DeviceWatch,
    endpoint: str,
    seconds: float,
    caller_gone: asyncio.Event,
) -> Availability:
    """Wait up to `seconds` for a busy agent to come free, giving up if the caller hangs up.

    Woken by device-state events; the state is also re-read every RECHECK_SECONDS, because a
    subscription made just before a websocket reconnect can be lost without a word. The caller
    of this function checks membership and pause again before ringing.
    """
    source = f"deviceState:{endpoint}"
    waiter = watch.register(endpoint)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    try:
        await channels.subscribe(source)
        while not caller_gone.is_set():
            # Cleared before the state is read, so a change reported while we read it still
            # wakes us below instead of being lost.
            waiter.clear()
            state = await channels.device_state(endpoint)
            if state in FREE_STATES:
                return Availability.FREE
            if state not in BUSY_STATES:
                return Availability.UNREACHABLE
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(min(remaining, RECHECK_SECONDS)):
                    await waiter.wait()
        return Availability.BUSY
    finally:
        watch.unregister(endpoint, waiter)
        with contextlib.suppress(AriUnavailable, ChannelGone):
            await channels.unsubscribe(source)
