"""One call in the application: the decision, the agent check, and the hand-over to the dialplan.

The caller is always moved on before anything is recorded about it: what is learned goes to the
journal beside the attempt, and a database that stops answering delays a record, never a call.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from datetime import UTC, datetime

import structlog

from sticky_router.ari_app.availability import DeviceWatch, check_availability, wait_until_free
from sticky_router.ari_app.best_effort import best_effort
from sticky_router.ari_app.channels import AriUnavailable, ChannelGone, Channels
from sticky_router.ari_app.hand_over import PreparedHandOver
from sticky_router.ari_app.wait_offer import CallerKeys, ask_to_wait, music_on, say_and_hang_up
from sticky_router.ari_app.watch import HandedOverCalls
from sticky_router.routing_core import (
    BlockedDecision,
    Candidate,
    Decision,
    HangupSide,
    IncomingCall,
    QueueReason,
    RoutingService,
    StickyDecision,
)
from sticky_router.routing_core.attempt import Availability, wrapping_up
from sticky_router.routing_core.candidates import queue_to_check
from sticky_router.routing_core.decision import destination_queue
from sticky_router.routing_core.dialplan_variables import (
    caller_language,
    fallback_variables,
    handed_over,
    queue_reason,
)
from sticky_router.routing_core.events import (
    CallEnded,
    CallEvent,
    CallRouted,
    CallStarted,
    DecisionMade,
    EventSink,
)
from sticky_router.routing_core.other_nodes import RECHECK_SECONDS, OtherNodes
from sticky_router.routing_core.wait_offer import WaitChoice, callback_request

log = structlog.get_logger("sticky_router.ari")

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
    keys: CallerKeys = field(default_factory=CallerKeys)  # while the wait offer asks them

    async def started_recorded(self) -> None:
        if self.recorded is not None:
            await self.recorded


class Attempt:
    def __init__(
        self,
        channels: Channels,
        routing: RoutingService,
        journal: EventSink,
        targets: DialplanTargets,
        devices: DeviceWatch,
        handed_over: HandedOverCalls,
    ) -> None:
        self.channels = channels
        self.routing = routing
        self._journal = journal
        self._targets = targets
        self.devices = devices
        self._handed_over = handed_over
        self._background: set[asyncio.Task[None]] = set()

    async def run(self, live: LiveCall) -> None:
        call_id = live.call.call_id
        ahead: PreparedHandOver | None = None
        deciding = True

        def send_ahead(decided: StickyDecision) -> None:
            nonlocal ahead
            if deciding:  # never once the call has moved on (a decision past its budget)
                ahead = PreparedHandOver(self.channels, call_id, decided, self._background)

        rung = False
        try:
            decision = await self.routing.decide(live.call, decided=send_ahead)
            deciding = False
            if not isinstance(decision, StickyDecision):
                if ahead is not None:  # the claim or the database budget ended it
                    await ahead.settled()
                await self._fall_back(live, decision, queue_reason(decision))
                return
            live.recorded = asyncio.get_running_loop().create_task(self._record_start(decision))
            if ahead is None:  # a routing service that tells no decision ahead
                ahead = PreparedHandOver(self.channels, call_id, decision, self._background)
            rung = await self._walk(live, decision, ahead)
        finally:
            if ahead is not None and not rung:
                await ahead.settled()  # before the safety net sets its own variables
                ahead.drop()

    async def _walk(
        self, live: LiveCall, decision: StickyDecision, ahead: PreparedHandOver
    ) -> bool:
        """The candidates, then what the walk found: True when an agent is being rung."""
        probe = AriProbe(self, live, decision, ahead)
        walk = await self.routing.walk(decision, probe)
        if live.caller_gone.is_set():
            await self._finish_abandoned(live)
        elif walk.offer is WaitChoice.CALLBACK:
            await self._callback_asked(live, decision)
        elif walk.chosen is None:
            reason = walk.first_miss or Availability.BUSY.value
            await self._release(live.call.call_id, reason)
            await ahead.settled()
            await self._fall_back(live, decision, reason)
        else:
            on_node = probe.other_nodes.node_of(walk.chosen)
            return await self._hand_to_ring(live, decision, walk.chosen, on_node, ahead)
        return False

    async def _hand_to_ring(
        self,
        live: LiveCall,
        decision: StickyDecision,
        chosen: Candidate,
        on_node: str | None,
        ahead: PreparedHandOver,
    ) -> bool:
        """The agent is free: the dialplan announces, rings and connects (context sticky-ring),
        through the trunk to `on_node` when the agent is logged in there. The caller's channel
        stays watched, so the ring's outcome and the end are recorded. False when the caller
        hung up first."""
        call_id = live.call.call_id
        self._handed_over.add(call_id, chosen.agent.endpoint, live.recorded)
        try:
            # Watched (no Dial event is missed) and the variables set, before the move: sent
            # while the claim was written, so usually only the continue is left.
            await ahead.complete(decision, chosen, on_node)
            live.handed_over = True
            await self.channels.continue_in_dialplan(
                call_id, self._targets.ring_context, self._targets.extension
            )
        except ChannelGone:
            live.caller_gone.set()  # the caller hung up in the meantime
            self._handed_over.forget(call_id)
            await self._finish_abandoned(live)
            return False
        except BaseException:
            live.handed_over = False  # still ours: the safety net sends them to the queue
            self._handed_over.forget(call_id)
            raise
        log.info("ringing_in_dialplan", call_id=call_id, target=chosen.agent.name,
                 **({"on_node": on_node} if on_node else {}))  # fmt: skip
        return True

    async def _callback_asked(self, live: LiveCall, decision: StickyDecision) -> None:
        """The caller pressed 2: thanked, the callback handed to their agent (the journal
        first: a promise to call back is never lost), and the call ended by us."""
        call_id = live.call.call_id
        asked = callback_request(decision, now())
        await live.started_recorded()
        if asked is not None:
            await self._journal.append(asked)
        await self._journal.append(CallRouted(call_id, "callback", Availability.BUSY.value))
        await self._release(call_id, "callback")
        live.handed_over = True  # the StasisEnd that follows is ours
        language = caller_language(decision.context.identity)
        await say_and_hang_up(self.channels, call_id, live.keys, live.caller_gone, language)
        await self._journal.append(
            CallEnded(call_id, now(), HangupSide.SYSTEM, "callback", Availability.BUSY.value)
        )

    async def _fall_back(self, live: LiveCall, decision: Decision, reason: str) -> None:
        """The queue (or, for a blocked caller, the destination the admin set). The caller is
        moved first and recorded after: the database never holds a caller back."""
        call_id = live.call.call_id
        variables = fallback_variables(decision, reason)
        context = self._targets.queue_context
        if destination_queue(decision) is None and isinstance(decision, BlockedDecision):
            context = self._targets.blocked_context  # a policy message, not a queue
        live.handed_over = True
        moved = await self.move(call_id, context, variables)
        log.info("fallback", call_id=call_id, reason=reason, context=context, moved=moved)
        outcome = "blocked" if isinstance(decision, BlockedDecision) else "queue"
        if not moved:  # the caller hung up before we could move them
            outcome, reason = "abandoned", QueueReason.CALLER_ABANDONED.value
        routed = CallRouted(call_id, outcome, reason)
        if isinstance(decision, StickyDecision):
            await live.started_recorded()
            await self._journal.append(routed)
        else:
            # Most calls: start, decision and route in one append (one commit to disk).
            await self._record_start(decision, routed)

    async def rescue(self, live: LiveCall) -> None:
        """The safety net after an error: the queue (unless the caller already left, or the
        dialplan already has them), the claims let go, and why."""
        call_id, reason = live.call.call_id, QueueReason.ROUTER_ERROR.value
        moved = False
        if not live.caller_gone.is_set() and not live.handed_over:
            moved = await self.to_queue(call_id, reason)
        await self._release(call_id, reason)
        if moved:
            await live.started_recorded()
            await self._journal.append(CallRouted(call_id, "queue", reason))

    async def to_queue(self, channel_id: str, reason: str) -> bool:
        """The safety net's way out: the queue, with only the reason known."""
        return await self.move(channel_id, self._targets.queue_context, {"STICKY_REASON": reason})

    async def move(self, channel_id: str, context: str, variables: dict[str, str]) -> bool:
        """Leave the variables (inheritable, so Queue() hands them to the agent's channel) and
        continue the channel in the dialplan. False when the caller had already hung up. ARI
        failing is tried once more; after that the periodic sweep finds the caller."""
        for attempt in range(2):
            try:
                await self.channels.set_variables(channel_id, handed_over(variables))
                await self.channels.continue_in_dialplan(
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
        await self._journal.append(
            CallEnded(live.call.call_id, now(), HangupSide.CALLER, "abandoned", "caller_abandoned")
        )

    async def _record_start(self, decision: Decision, *then: CallEvent) -> None:
        """The call's start and its decision, and `then` after them, in one append."""
        call = decision.context.call
        await self._journal.append(
            CallStarted.of(call, decision.context.number), DecisionMade.of(decision), *then
        )

    async def _release(self, call_id: str, outcome: str) -> None:
        await best_effort(self.routing.release(call_id, outcome, now()))


class AriProbe:
    """The candidate walk's questions, answered by Asterisk (routing_core.candidates)."""

    def __init__(
        self, attempt: Attempt, live: LiveCall, decision: StickyDecision, ahead: PreparedHandOver
    ) -> None:
        self._attempt = attempt
        self._live = live
        self._decision = decision
        self._ahead = ahead
        self._wrap_up_seconds = decision.context.settings.values.wrap_up_seconds
        self.other_nodes = OtherNodes(attempt.routing)  # agents logged in elsewhere (issue 17)

    async def claim(self, candidate: Candidate) -> bool:
        if self._live.caller_gone.is_set():
            return False
        return await self._attempt.routing.claim(self._decision, candidate)

    async def availability(self, candidate: Candidate) -> Availability:
        call = self._live.call
        if self._live.caller_gone.is_set():
            return Availability.BUSY  # nothing more to try: the walk ends without a choice
        queue = queue_to_check(self._decision, candidate)
        if queue is None:  # nothing unchecked reaches a dialplan function or Dial()
            log.warning("unusable_endpoint_or_queue", call_id=call.call_id)
            return Availability.UNREACHABLE
        in_wrap_up = wrapping_up(candidate.agent.last_talk_ended_at, now(), self._wrap_up_seconds)
        found = await check_availability(
            self._attempt.channels, call.call_id, candidate.agent, queue, in_wrap_up,
            sent=self._ahead.check_read(candidate, queue),
        )  # fmt: skip
        return await self.other_nodes.judge(candidate, queue, found, in_wrap_up)

    async def wait_until_free(
        self, candidate: Candidate, seconds: float
    ) -> tuple[Availability, float]:
        """Woken by device-state events; once free, membership and pause are read again (the
        agent may have paused or logged out meanwhile)."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        if self.other_nodes.node_of(candidate) is not None:
            return await self._wait_elsewhere(candidate, seconds), loop.time() - started
        found = await wait_until_free(
            self._attempt.channels,
            self._attempt.devices,
            self._live.call.call_id,
            candidate.agent,
            seconds,
            self._live.caller_gone,
        )
        if found is Availability.FREE and not self._live.caller_gone.is_set():
            found = await self.availability(candidate)
        return found, loop.time() - started

    async def _wait_elsewhere(self, candidate: Candidate, seconds: float) -> Availability:
        """An agent on another node: what its router publishes, read again until they are free,
        the time is up or the caller hangs up (no device events from another node reach us)."""
        deadline = asyncio.get_running_loop().time() + seconds
        found = Availability.BUSY
        while not self._live.caller_gone.is_set():
            found = await self.availability(candidate)
            remaining = deadline - asyncio.get_running_loop().time()
            if found is not Availability.BUSY or remaining <= 0:
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    self._live.caller_gone.wait(), min(remaining, RECHECK_SECONDS)
                )
        return found

    async def let_go(self, candidate: Candidate, reason: str) -> None:
        await best_effort(
            self._attempt.routing.release_agent(self._live.call.call_id, candidate, reason, now())
        )

    async def offer_wait(self, candidate: Candidate) -> WaitChoice:
        offer = await self._attempt.routing.wait_offer(self._decision, candidate)
        if offer is None:
            return WaitChoice.NOT_OFFERED
        if self._live.caller_gone.is_set():
            return WaitChoice.NO_KEY
        language = caller_language(self._decision.context.identity)
        return await ask_to_wait(
            self._attempt.channels,
            self._live.call.call_id,
            self._live.keys,
            self._live.caller_gone,
            offer,
            language,
        )

    async def wait_on_hold(
        self, candidate: Candidate, seconds: float
    ) -> tuple[Availability, float]:
        call_id = self._live.call.call_id
        await music_on(self._attempt.channels, call_id, True)
        try:
            return await self.wait_until_free(candidate, seconds)
        finally:
            if not self._live.caller_gone.is_set():
                await music_on(self._attempt.channels, call_id, False)
