"""Is the agent really free? The facts read through ARI, judged by routing_core.attempt.

routing.md: ring only an agent who is logged in to the queue, not paused, and whose device (or, on
a FreePBX-style line, whose extension's hint) is not in use, ringing or on hold. Busy may be
waited for (a setting); paused, logged out or unreachable never are.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable

from sticky_router.ari_app.channels import AriUnavailable, ChannelGone, Channels
from sticky_router.routing_core.attempt import (
    BUSY_STATES,
    FREE_STATES,
    Availability,
    agent_facts,
    availability,
    split_agent_facts,
    state_function,
)
from sticky_router.routing_core.dialplan_safe import is_hint
from sticky_router.routing_core.model import Agent

RECHECK_SECONDS = 1.0


def facts_expression(queue: str, agent: Agent) -> str:
    """The agent check in one ARI read: EVAL() substitutes the facts' expression on the caller's
    channel (routing_core.attempt.agent_facts). Over the websocket Asterisk answers a router's
    requests one after the other, so three reads were three turns on the caller's way to the
    agent. Measured on Asterisk 22 (tests/e2e/test_agent_check_in_one_read.py): a function that
    fails inside leaves its part empty, the read stands, and the parts are what the three reads
    answer."""
    return f"EVAL({agent_facts(queue, agent)})"


async def check_availability(
    channels: Channels,
    channel_id: str,
    agent: Agent,
    queue: str,
    wrapping_up: bool = False,
    sent: Awaitable[str] | None = None,
) -> Availability:
    """Membership and pause are evaluated on the caller's channel (dialplan functions need
    one) for the agent's member interface; the state is the device's or the extension's hint;
    wrap-up comes from the recorded calls. The agent's values were checked by the caller
    (routing_core.candidates.queue_to_check). `sent`: the same read, already on its way."""
    read = sent if sent is not None else channels.read(channel_id, facts_expression(queue, agent))
    members, paused, state = split_agent_facts(await read)
    return availability(
        members=members,
        interface=agent.member_interface,
        paused=paused,
        device_state=state,
        wrapping_up=wrapping_up,
    )


async def read_state(channels: Channels, channel_id: str, agent: Agent) -> str:
    """A device's state through ARI's deviceStates; an extension's hint (FreePBX) through
    EXTENSION_STATE on the caller's channel, since ARI answers INVALID for `hint:` devices."""
    source = agent.state_source
    function = state_function(source)
    if function is None:
        return "INVALID"
    if is_hint(source):
        return await channels.read(channel_id, function)
    return await channels.device_state(source)


class DeviceWatch:
    """Wakes waiters when Asterisk reports a device state change (DeviceStateChanged events of
    the devices the application subscribed to)."""

    def __init__(self) -> None:
        self._waiters: dict[str, set[asyncio.Event]] = {}

    def changed(self, device: str) -> None:
        for waiter in self._waiters.get(device, ()):
            waiter.set()

    def add(self, device: str, waiter: asyncio.Event) -> None:
        """One waiter may watch several devices (every phone behind a hint)."""
        self._waiters.setdefault(device, set()).add(waiter)

    def unregister(self, device: str, waiter: asyncio.Event) -> None:
        waiters = self._waiters.get(device)
        if waiters is not None:
            waiters.discard(waiter)
            if not waiters:
                del self._waiters[device]


async def wait_until_free(
    channels: Channels,
    watch: DeviceWatch,
    channel_id: str,
    agent: Agent,
    seconds: float,
    caller_gone: asyncio.Event,
) -> Availability:
    """Wait up to `seconds` for a busy agent to come free, giving up if the caller hangs up.

    Woken by the device-state events of the agent's phones (every phone behind a hint); the
    state is also re-read every RECHECK_SECONDS, because a subscription made just before a
    websocket reconnect can be lost without a word (and an agent whose phones are not listed
    has nothing to subscribe to). The caller of this function checks membership and pause
    again before ringing.
    """
    phones = agent.phones
    waiter = asyncio.Event()
    for phone in phones:
        watch.add(phone, waiter)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    try:
        for phone in phones:
            await channels.subscribe(f"deviceState:{phone}")
        while not caller_gone.is_set():
            # Cleared before the state is read, so a change reported while we read it still
            # wakes us below instead of being lost.
            waiter.clear()
            state = await read_state(channels, channel_id, agent)
            if state in FREE_STATES:
                return Availability.FREE
            if state not in BUSY_STATES:
                return Availability.UNREACHABLE
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            await _woken(waiter, caller_gone, min(remaining, RECHECK_SECONDS))
        return Availability.BUSY
    finally:
        for phone in phones:
            watch.unregister(phone, waiter)
            with contextlib.suppress(AriUnavailable, ChannelGone):
                await channels.unsubscribe(f"deviceState:{phone}")


async def _woken(waiter: asyncio.Event, caller_gone: asyncio.Event, seconds: float) -> None:
    """Until a device changed, the caller left (their agent's claim is let go at once), or
    `seconds` passed."""
    woken = {asyncio.ensure_future(waiter.wait()), asyncio.ensure_future(caller_gone.wait())}
    try:
        await asyncio.wait(woken, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for future in woken:
            future.cancel()
