"""One call in the application: the decision, the agent check, and the hand-over to the dialplan.

The caller is always moved on before anything is recorded about it: the call's first record is
written beside the attempt, and a database that stops answering costs a record, never the call.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import structlog

from ari_app.availability import DeviceWatch, check_availability, wait_until_free
from ari_app.channels import AriUnavailable, ChannelGone, Channels
from ari_app.watch import HandedOverCalls
from routing_core import (
    BlockedDecision,
    CallRecorder,
    Decision,
    HangupSide,
    IncomingCall,
    QueueReason,
    RoutingService,
    StickyDecision,
)
from routing_core.attempt import Availability
from routing_core.dialplan_variables import (
    attempt_variables,
    fallback_variables,
    is_dial_target,
    queue_reason,
)
from routing_core.model import BlockDestinationKind

log = structlog.get_logger("sticky_router.ari")

RECORD_TIMEOUT = 2.0
RETRY_DELAY = 0.2  # one more try to move a caller when ARI stumbled


@dataclass(frozen=True)
class DialplanTargets:
    """Where calls leave the application to: the contexts a PBX admin included (dialplan/)."""

    queue_context: str = "sticky-queue"
    blocked_context: str = "sticky-blocked"
    ring_context: str = "sticky-ring"
    extension: str = "s"


def now() -> datetime:
    return datetime.now(UTC)


@dataclass
class LiveCall:
    """A caller channel in the application, while it is decided and its agent checked."""

    call: IncomingCall
    caller_gone: asyncio.Event = field(default_factory=asyncio.Event)
    # Set just before we move the caller on: the StasisEnd that follows is ours, not a
    # hang-up. (A caller who hangs up in Stasis is reported by StasisEnd alone.)
    handed_over: bool = False
    recorded: asyncio.Task[None] | None = None  # the call's first record, written aside

    async def started_recorded(self) -> None:
        if self.recorded is not None:
            await self.recorded


class Attempt:
    def __init__(
        self,
        channels: Channels,
        routing: RoutingService,
        recorder: CallRecorder,
        targets: DialplanTargets,
        devices: DeviceWatch,
        handed_over: HandedOverCalls,
    ) -> None:
        self._channels = channels
        self._routing = routing
        self._recorder = recorder
        self._targets = targets
        self._devices = devices
        self._handed_over = handed_over

    async def run(self, live: LiveCall) -> None:
        decision = await self._routing.decide(live.call)
        if not isinstance(decision, StickyDecision):
            await self._fall_back(live, decision, queue_reason(decision))
            return
        live.recorded = asyncio.get_running_loop().create_task(self._record_start(decision))
        availability = await self._check(live, decision)
        if live.caller_gone.is_set():
            await self._finish_abandoned(live)
        elif availability is not Availability.FREE:
            await self._release(live.call.call_id, availability.value)
            await self._fall_back(live, decision, availability.value)
        else:
            await self._hand_to_ring(live, decision)

    async def _check(self, live: LiveCall, decision: StickyDecision) -> Availability:
        """Is the target free now? A busy one may be waited for; once free, membership and
        pause are read again (the agent may have paused or logged out meanwhile)."""
        call = live.call
        endpoint = decision.target.agent.endpoint
        if not is_dial_target(endpoint):
            log.warning("unusable_endpoint", call_id=call.call_id, agent=decision.target.agent.name)
            return Availability.UNREACHABLE
        found = await check_availability(self._channels, call.call_id, endpoint, call.queue)
        wait = decision.context.settings.values.busy_wait_seconds
        if found is not Availability.BUSY or wait <= 0:
            return found
        found = await wait_until_free(
            self._channels, self._devices, endpoint, wait, live.caller_gone
        )
        if found is not Availability.FREE or live.caller_gone.is_set():
            return found
        return await check_availability(self._channels, call.call_id, endpoint, call.queue)

    async def _hand_to_ring(self, live: LiveCall, decision: StickyDecision) -> None:
        """The agent is free: the dialplan announces, rings and connects (context sticky-ring).
        The caller's channel stays watched, so the ring's outcome and the end are recorded."""
        call_id = live.call.call_id
        variables = attempt_variables(decision)
        self._handed_over.add(call_id, decision.target.agent.endpoint, live.recorded)
        try:
            await self._channels.watch(call_id)  # before the move: no Dial event is missed
            await self._channels.set_variables(call_id, _inheritable(variables))
            live.handed_over = True
            await self._channels.continue_in_dialplan(
                call_id, self._targets.ring_context, self._targets.extension
            )
        except ChannelGone:
            live.caller_gone.set()  # the caller hung up in the meantime
            self._handed_over.forget(call_id)
            await self._finish_abandoned(live)
            return
        except BaseException:
            live.handed_over = False  # still ours: the safety net sends them to the queue
            self._handed_over.forget(call_id)
            raise
        log.info("ringing_in_dialplan", call_id=call_id, target=decision.target.agent.name)

    async def _fall_back(self, live: LiveCall, decision: Decision, reason: str) -> None:
        """The queue (or, for a blocked caller, the destination the admin set). The caller is
        moved first and recorded after: the database never holds a caller back."""
        call_id = live.call.call_id
        variables = fallback_variables(decision, reason)
        context = self._targets.queue_context
        if isinstance(decision, BlockedDecision):
            if decision.block.destination_kind is BlockDestinationKind.QUEUE:
                variables["QUEUE_NAME"] = decision.block.destination
            else:
                context = self._targets.blocked_context
        live.handed_over = True
        moved = await self.move(call_id, context, variables)
        log.info("fallback", call_id=call_id, reason=reason, context=context, moved=moved)
        if isinstance(decision, StickyDecision):
            await live.started_recorded()
        else:
            await self._record_start(decision)
        outcome = "blocked" if isinstance(decision, BlockedDecision) else "queue"
        if not moved:  # the caller hung up before we could move them
            outcome, reason = "abandoned", QueueReason.CALLER_ABANDONED.value
        await self.record(self._recorder.call_routed(call_id, outcome, reason))

    async def to_queue(self, channel_id: str, reason: str) -> bool:
        """The safety net's way out: the queue, with only the reason known."""
        return await self.move(channel_id, self._targets.queue_context, {"STICKY_REASON": reason})

    async def move(self, channel_id: str, context: str, variables: dict[str, str]) -> bool:
        """Leave the variables (inheritable, so Queue() hands them to the agent's channel) and
        continue the channel in the dialplan. False when the caller had already hung up. ARI
        failing is tried once more; after that the periodic sweep finds the caller."""
        for attempt in range(2):
            try:
                await self._channels.set_variables(channel_id, _inheritable(variables))
                await self._channels.continue_in_dialplan(
                    channel_id, context, self._targets.extension
                )
                return True
            except ChannelGone:
                return False
            except AriUnavailable as error:
                log.warning("move_failed", call_id=channel_id, error=str(error), attempt=attempt)
                await asyncio.sleep(RETRY_DELAY)
        return False

    async def _finish_abandoned(self, live: LiveCall) -> None:
        await live.started_recorded()
        await self._release(live.call.call_id, "caller_abandoned")
        await self.record(
            self._recorder.call_ended(
                live.call.call_id, now(), HangupSide.CALLER, "abandoned", "caller_abandoned"
            )
        )

    async def _record_start(self, decision: Decision) -> None:
        call = decision.context.call
        await self.record(self._recorder.call_started(call, decision.context.number))
        await self.record(self._recorder.decision_made(decision))

    async def release(self, call_id: str, outcome: str) -> None:
        await self._release(call_id, outcome)

    async def _release(self, call_id: str, outcome: str) -> None:
        await self.record(self._routing.release(call_id, outcome, now()))

    @staticmethod
    async def record(write: Awaitable[object]) -> None:
        """Recording is best effort: a database that stops answering never stops a call."""
        try:
            async with asyncio.timeout(RECORD_TIMEOUT):
                await write
        except Exception as error:
            log.warning("record_failed", error=type(error).__name__)


def _inheritable(variables: dict[str, str]) -> dict[str, str]:
    """`__NAME`: Queue() and Dial() copy them to the agent's channel, for its screen."""
    return {f"__{name}": value for name, value in variables.items()}
