"""The candidate walk's questions, asked of Asterisk through the caller's own AGI session.

The FastAGI lookup holds the caller's channel while it decides, so it can evaluate the same
dialplan functions the ARI application reads (QUEUE_MEMBER_LIST, QUEUE_MEMBER paused,
DEVICE_STATE, or EXTENSION_STATE for an agent known by a hint) with one GET FULL VARIABLE and judge
them with routing_core.attempt: one definition of "free to ring" for both modes, and the same
walk over ordered candidates. Asterisk sends no device-state events over AGI, so a busy agent is
re-read twice a second while waited for. An agent logged in on another node of the line is
judged as that node publishes them, and rung through its trunk (routing_core/other_nodes.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime

from sticky_router.agi.protocol import AgiSession, quote
from sticky_router.agi.wait_offer import ask_to_wait, hold_music
from sticky_router.routing_core import Candidate, RoutingService, StickyDecision
from sticky_router.routing_core.attempt import (
    BUSY_STATES,
    FREE_STATES,
    Availability,
    agent_facts,
    availability,
    split_agent_facts,
    state_function,
    wrapping_up,
)
from sticky_router.routing_core.candidates import queue_to_check
from sticky_router.routing_core.dialplan_variables import caller_language
from sticky_router.routing_core.other_nodes import RECHECK_SECONDS, OtherNodes
from sticky_router.routing_core.wait_offer import WaitChoice

POLL_SECONDS = 0.5


class AgiProbe:
    def __init__(
        self,
        session: AgiSession,
        routing: RoutingService,
        decision: StickyDecision,
        clock: Callable[[], datetime],
    ) -> None:
        self._session = session
        self._routing = routing
        self._decision = decision
        self._call = decision.context.call
        self._clock = clock
        self._wrap_up_seconds = decision.context.settings.values.wrap_up_seconds
        self.other_nodes = OtherNodes(routing)  # agents logged in on another node (issue 17)

    async def claim(self, candidate: Candidate) -> bool:
        return await self._routing.claim(self._decision, candidate)

    async def availability(self, candidate: Candidate) -> Availability:
        member = candidate.agent.member_interface
        queue = queue_to_check(self._decision, candidate)
        if queue is None:
            return Availability.UNREACHABLE  # nothing unchecked reaches a dialplan function
        # One GET FULL VARIABLE for the three facts: each command is a round trip through
        # Asterisk on the caller's way to the agent.
        members, paused, state = split_agent_facts(
            await self._read(agent_facts(queue, candidate.agent))
        )
        in_wrap_up = wrapping_up(
            candidate.agent.last_talk_ended_at, self._clock(), self._wrap_up_seconds
        )
        here = availability(
            members=members,
            interface=member,
            paused=paused,
            device_state=state,
            wrapping_up=in_wrap_up,
        )
        return await self.other_nodes.judge(candidate, queue, here, in_wrap_up)

    async def wait_until_free(
        self, candidate: Candidate, seconds: float
    ) -> tuple[Availability, float]:
        loop = asyncio.get_running_loop()
        started = loop.time()
        if self.other_nodes.node_of(candidate) is not None:
            return await self._wait_elsewhere(candidate, seconds), loop.time() - started
        while True:
            state = await self._state(candidate)
            if state in FREE_STATES:
                # Free now: membership and pause again (paused or logged out meanwhile?).
                return await self.availability(candidate), loop.time() - started
            if state not in BUSY_STATES:
                return Availability.UNREACHABLE, loop.time() - started
            remaining = seconds - (loop.time() - started)
            if remaining <= 0:
                return Availability.BUSY, seconds
            await asyncio.sleep(min(POLL_SECONDS, remaining))

    async def _wait_elsewhere(self, candidate: Candidate, seconds: float) -> Availability:
        """An agent on another node: what its node publishes, read again until they are free or
        the time is up. Each look also asks this caller's channel (membership here), so a caller
        who hangs up ends the wait (AgiHangup)."""
        deadline = asyncio.get_running_loop().time() + seconds
        while True:
            found = await self.availability(candidate)
            remaining = deadline - asyncio.get_running_loop().time()
            if found is not Availability.BUSY or remaining <= 0:
                return found
            await asyncio.sleep(min(remaining, RECHECK_SECONDS))

    async def let_go(self, candidate: Candidate, reason: str) -> None:
        await self._routing.release_agent(self._call.call_id, candidate, reason, self._clock())

    async def offer_wait(self, candidate: Candidate) -> WaitChoice:
        offer = await self._routing.wait_offer(self._decision, candidate)
        if offer is None:
            return WaitChoice.NOT_OFFERED
        language = caller_language(self._decision.context.identity)
        return await ask_to_wait(self._session, offer, language)

    async def wait_on_hold(
        self, candidate: Candidate, seconds: float
    ) -> tuple[Availability, float]:
        await hold_music(self._session, True)
        found = await self.wait_until_free(candidate, seconds)
        await hold_music(self._session, False)  # not reached when the caller hung up
        return found

    async def _state(self, candidate: Candidate) -> str:
        """DEVICE_STATE of a device, EXTENSION_STATE of an extension's hint (FreePBX)."""
        function = state_function(candidate.agent.state_source)
        return "INVALID" if function is None else await self._read(f"${{{function}}}")

    async def _read(self, expression: str) -> str:
        reply = await self._session.command(f"GET FULL VARIABLE {quote(expression)}")
        return reply.data if reply.result == 1 else ""
