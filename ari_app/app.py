"""The Stasis application: each support call gets a decision, a sticky attempt, or the queue.

Flow of one call (routing.md, "The attempt"):
  StasisStart -> decision (within the database budget) -> queue at once, or:
  is the agent free (device state, queue membership, pause)? -> optional wait while busy ->
  announcement (only now) -> ring the agent for the ring timeout -> bridge on answer;
  any miss -> the queue context with the call's variables. The caller hanging up while the agent
  rings cancels the agent leg; an agent who answers after the caller left is hung up.
Every step is recorded through the core. When in doubt, the caller goes to the queue.

Ids are deterministic, so a restarted router recognises its own work: the agent leg of call C
to agent A is `C-A`, their bridge `C-bridge`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import structlog

from ari_app.availability import (
    Availability,
    DeviceWatch,
    check_availability,
    wait_until_free,
)
from ari_app.bridged import BridgedCall, BridgedCalls
from ari_app.channel_vars import fallback_variables, queue_reason
from ari_app.client import AriClient, AriError, Event, segment
from ari_app.ringing import RingingListener, RingSource
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
from routing_core.callerid import callerid_name
from routing_core.model import BlockDestinationKind

log = structlog.get_logger("sticky_router.ari")

AGENT_LEG_ARG = "agent-leg"
BRIDGE_SUFFIX = "-bridge"
RECORD_TIMEOUT = 2.0
AGENT_LEG_READY_TIMEOUT = 2.0  # a slow database delays the record, never the caller

# Asterisk's dial statuses, in the words of routing.md's miss reasons. BUSY at ring time is a
# rejection: the device state said the phone was free a moment ago, so the agent (or their
# do-not-disturb) turned the call down with 486.
DIAL_MISS_REASONS = {
    "BUSY": "rejected",
    "CONGESTION": "rejected",
    "NOANSWER": "no_answer",
    "CANCEL": "no_answer",
    "CHANUNAVAIL": "offline",
}


@dataclass(frozen=True)
class DialplanTargets:
    """Where calls leave the application to: the contexts a PBX admin included (dialplan/)."""

    queue_context: str = "sticky-queue"
    blocked_context: str = "sticky-blocked"
    extension: str = "s"


def now() -> datetime:
    return datetime.now(UTC)


@dataclass
class LiveCall:
    """What the application holds for one caller channel while it decides and rings."""

    call: IncomingCall
    agent_channel: str | None = None
    # The agent leg can be dialled only once it is in Stasis: /channels/create returns first.
    agent_in_stasis: asyncio.Event = field(default_factory=asyncio.Event)
    dial_status: asyncio.Future[str] = field(default_factory=lambda: asyncio.Future())
    caller_gone: asyncio.Event = field(default_factory=asyncio.Event)
    # Set just before we `continue` the caller: the StasisEnd that follows is ours, not a
    # hang-up. (A caller who hangs up in Stasis is reported by StasisEnd alone.)
    handed_over: bool = False
    recorded: asyncio.Task[None] | None = None  # the call's first record, written aside

    async def started_recorded(self) -> None:
        """Wait for the call's first record: every later record updates that row."""
        if self.recorded is not None:
            await self.recorded


class StickyRouterApp:
    def __init__(
        self,
        client: AriClient,
        routing: RoutingService,
        recorder: CallRecorder,
        targets: DialplanTargets | None = None,
        ringing: RingingListener | None = None,
    ) -> None:
        self._ari = client
        self._ringing = ringing
        self._routing = routing
        self._recorder = recorder
        self._targets = targets or DialplanTargets()
        self._calls: dict[str, LiveCall] = {}
        self._agent_to_caller: dict[str, str] = {}
        self._bridged = BridgedCalls()
        self._devices = DeviceWatch()
        self._tasks: set[asyncio.Task[object]] = set()
        self.accepting = True  # False while the process shuts down: new calls go to the queue

    # -- events -------------------------------------------------------------------------------

    async def on_event(self, event: Event) -> None:
        kind = event.get("type")
        if kind == "StasisStart":
            self._stasis_start(event)
        elif kind == "Dial":
            self._dial(event)
        elif kind in ("ChannelHangupRequest", "ChannelDestroyed", "StasisEnd"):
            await self._gone(event)
        elif kind == "DeviceStateChanged":
            self._devices.changed(str(event.get("device_state", {}).get("name", "")))

    async def on_connected(self) -> None:
        """After every (re)connect, take stock of what Asterisk holds for this application.

        Asterisk's own list for the app (`GET /applications/{app}`) forgets the callers whose
        subscription died with the old websocket, so we look at every channel in our Stasis()
        and every bridge we created. Bridged calls survive a router restart: their bridges are
        adopted again, and a bridge where one side left while we were away is closed. A caller
        left unbridged (an earlier router died in the middle of a decision) goes to the queue;
        an agent leg nobody waits for any more is hung up.
        """
        try:
            channels = await self._ari.request("GET", "/channels")
            bridges = await self._ari.request("GET", "/bridges")
        except (AriError, OSError, TimeoutError) as error:
            log.warning("resync_failed", error=str(error))
            return
        ours = {str(channel["id"]) for channel in channels if self._in_our_stasis(channel)}
        in_bridges: set[str] = set()
        for bridge in bridges:
            # Asterisk names every ARI bridge's creator "Stasis"; ours are told by their id
            # and by holding channels of our application.
            members = [str(channel_id) for channel_id in bridge.get("channels", [])]
            if str(bridge["id"]).endswith(BRIDGE_SUFFIX) and ours.intersection(members):
                in_bridges.update(members)
                await self._adopt_bridge(str(bridge["id"]), members)
        for channel_id in sorted(ours - in_bridges):
            if channel_id in self._calls or channel_id in self._agent_to_caller:
                continue
            if _looks_like_agent_leg(channel_id):
                await self._hang_up(channel_id)
                continue
            log.info("resync_orphan_to_queue", call_id=channel_id)
            await self._send_to(
                channel_id, self._targets.queue_context, {"STICKY_REASON": "router_restart"}
            )

    def _in_our_stasis(self, channel: Event) -> bool:
        dialplan = channel.get("dialplan", {})
        if dialplan.get("app_name") != "Stasis":
            return False
        return str(dialplan.get("app_data", "")).split(",", 1)[0] == self._ari.app

    async def _adopt_bridge(self, bridge_id: str, channels: list[str]) -> None:
        if not bridge_id.endswith(BRIDGE_SUFFIX):
            return
        call_id = bridge_id.removesuffix(BRIDGE_SUFFIX)
        agents = [c for c in channels if c != call_id]
        if call_id in channels and agents:
            self._bridged.add(BridgedCall(call_id, agents[0], bridge_id))
            # The subscriptions died with the old websocket: without them no hang-up would
            # reach us and the other side would stay in the bridge alone.
            sources = ",".join(f"channel:{channel_id}" for channel_id in channels)
            with contextlib.suppress(AriError):
                await self._ari.request(
                    "POST",
                    f"/applications/{segment(self._ari.app)}/subscription",
                    params={"eventSource": sources},
                )
            log.info("resync_bridge_adopted", call_id=call_id, bridge_id=bridge_id)
            return
        # One side hung up while we were away: end the conversation for the other too.
        for channel_id in channels:
            await self._hang_up(channel_id)
        with contextlib.suppress(AriError):
            await self._ari.request("DELETE", f"/bridges/{segment(bridge_id)}")

    def _stasis_start(self, event: Event) -> None:
        channel = event["channel"]
        args = [str(arg) for arg in event.get("args") or []]
        if args and args[0] == AGENT_LEG_ARG:
            caller = self._calls.get(self._agent_to_caller.get(channel["id"], ""))
            if caller is not None:
                caller.agent_in_stasis.set()
            return
        if not self.accepting:
            self._spawn(
                self._send_to(
                    str(channel["id"]),
                    self._targets.queue_context,
                    {"STICKY_REASON": "router_stopping"},
                )
            )
            return
        call = incoming_call(channel, args)
        live = LiveCall(call)
        self._calls[call.call_id] = live
        self._spawn(self._handle(live))

    def _dial(self, event: Event) -> None:
        peer = event.get("peer", {}).get("id", "")
        status = str(event.get("dialstatus", ""))
        caller_id = self._agent_to_caller.get(peer)
        if caller_id is None or not status:
            return  # progress ("", RINGING, PROGRESS) or not ours
        live = self._calls.get(caller_id)
        if live is not None and not live.dial_status.done() and status != "RINGING":
            live.dial_status.set_result(status)

    async def _gone(self, event: Event) -> None:
        channel_id = event.get("channel", {}).get("id", "")
        kind = event.get("type")
        bridged = self._bridged.pop(channel_id)
        if bridged is not None:
            await self._end_bridged(bridged, ended_by=channel_id)
            return
        live = self._calls.get(channel_id)
        if live is not None and not (kind == "StasisEnd" and live.handed_over):
            live.caller_gone.set()
            if not live.dial_status.done():
                live.dial_status.set_result("CALLER_HANGUP")
            return
        caller_id = self._agent_to_caller.get(channel_id)
        # Only ChannelDestroyed's cause is the leg's own: the hang-up request of a dial timeout
        # carries Asterisk's internal cause 32 while the leg ends with 19, no answer.
        if caller_id is not None and kind == "ChannelDestroyed":
            caller = self._calls.get(caller_id)
            if caller is not None and not caller.dial_status.done():
                # A leg we dial ourselves ends without a final Dial event: the hang-up cause
                # is what tells busy, rejected, unanswered and unreachable apart.
                caller.dial_status.set_result(dial_status_of_cause(event.get("cause")))

    # -- one call -----------------------------------------------------------------------------

    async def _handle(self, live: LiveCall) -> None:
        call = live.call
        try:
            decision = await self._routing.decide(call)
            if isinstance(decision, StickyDecision):
                await self._attempt(live, decision)
            else:
                await self._fall_back(live, decision, queue_reason(decision))
        except Exception:
            log.exception("call_failed", call_id=call.call_id)
            # When in doubt, the caller goes to the queue.
            if not live.caller_gone.is_set() and not self._bridged.has(call.call_id):
                await self._send_to(
                    call.call_id, self._targets.queue_context, {"STICKY_REASON": "router_error"}
                )
            await self._release(call, "router_error")
        finally:
            self._calls.pop(call.call_id, None)
            if live.agent_channel is not None:
                self._agent_to_caller.pop(live.agent_channel, None)

    async def _record_start(self, decision: Decision) -> None:
        call = decision.context.call
        await self._record(self._recorder.call_started(call, decision.context.number))
        await self._record(self._recorder.decision_made(decision))

    async def _attempt(self, live: LiveCall, decision: StickyDecision) -> None:
        call = live.call
        knobs = decision.context.settings.values
        target = decision.target.agent
        # The call's record is written beside the attempt, never in front of it: the caller's
        # wait for the agent's phone includes no database write (the leg waits for it instead).
        live.recorded = asyncio.get_running_loop().create_task(self._record_start(decision))
        availability = await check_availability(
            self._ari, call.call_id, target.endpoint, call.queue
        )
        if availability is Availability.BUSY and knobs.busy_wait_seconds > 0:
            availability = await wait_until_free(
                self._ari, self._devices, target.endpoint, knobs.busy_wait_seconds, live.caller_gone
            )
        if live.caller_gone.is_set():
            await self._finish_abandoned(live)
            return
        if availability is not Availability.FREE:
            await self._miss(live, decision, availability.value)
            return
        if knobs.announce:
            await self._announce(live, knobs.announce_sound)
        status = await self._ring(live, decision)
        agent_channel = live.agent_channel
        assert agent_channel is not None
        if status == "ANSWER" and not live.caller_gone.is_set():
            await self._bridge(live, agent_channel)
            return
        await self._hang_up(agent_channel)  # also: an agent who answered after the caller left
        side = HangupSide.CALLER if live.caller_gone.is_set() else None
        await self._record(
            self._recorder.leg_ended(call.call_id, agent_channel, now(), status, side)
        )
        if live.caller_gone.is_set():
            await self._finish_abandoned(live)
            return
        await self._miss(live, decision, DIAL_MISS_REASONS.get(status, "no_answer"))

    async def _ring(self, live: LiveCall, decision: StickyDecision) -> str:
        """Ring the agent under our control; the Dial status, or why there was none."""
        call = live.call
        target = decision.target.agent
        ring_timeout = decision.context.settings.values.ring_timeout_seconds
        agent_channel = f"{call.call_id}-{target.name}"
        self._agent_to_caller[agent_channel] = call.call_id
        live.agent_channel = agent_channel
        try:
            await self._ari.request(
                "POST",
                "/channels/create",
                params={
                    "endpoint": target.endpoint,
                    "app": self._ari.app,
                    "appArgs": AGENT_LEG_ARG,
                    "channelId": agent_channel,
                    "originator": call.call_id,
                },
            )
            async with asyncio.timeout(AGENT_LEG_READY_TIMEOUT):
                await live.agent_in_stasis.wait()
            if decision.context.settings.values.callerid_name_prefix:
                await self._show_caller_name(call.call_id, decision)
            await self._ari.request(
                "POST",
                f"/channels/{segment(agent_channel)}/dial",
                params={"caller": call.call_id, "timeout": ring_timeout},
            )
        except (AriError, TimeoutError) as error:
            log.warning("agent_leg_failed", call_id=call.call_id, error=str(error) or "timeout")
            return "CHANUNAVAIL"
        rang = now()
        self._report_ringing(call.call_id, target.endpoint)
        await live.started_recorded()
        await self._record(
            self._recorder.leg_rang(call.call_id, agent_channel, target.endpoint, rang)
        )
        with contextlib.suppress(AriError):
            await self._ari.request("POST", f"/channels/{segment(call.call_id)}/ring")
        # The dial timeout ends the ringing; this margin only guards against a lost event.
        try:
            async with asyncio.timeout(ring_timeout + 5):
                return await live.dial_status
        except TimeoutError:
            return "NOANSWER"

    def _report_ringing(self, call_id: str, endpoint: str) -> None:
        if self._ringing is None:
            return
        try:
            self._ringing.agent_ringing(call_id, endpoint, RingSource.STICKY)
        except Exception:  # the screen pop is never worth a call
            log.exception("ringing_report_failed", call_id=call_id)

    async def _show_caller_name(self, call_id: str, decision: StickyDecision) -> None:
        """`[T-1001] Ivan Petrov` as the caller's name on the agent's phone. The dial copies the
        caller's caller ID to the agent leg (the INVITE's From), so it is set on the caller's
        channel, as sticky-queue does for a fallback: the caller is never sent their own ID."""
        with contextlib.suppress(AriError):
            await self._ari.request(
                "POST",
                f"/channels/{segment(call_id)}/variable",
                params={
                    "variable": "CALLERID(name)",
                    "value": callerid_name(decision.context.identity),
                },
            )

    async def _bridge(self, live: LiveCall, agent_channel: str) -> None:
        call = live.call
        bridge_id = f"{call.call_id}{BRIDGE_SUFFIX}"
        await self._ari.request("POST", f"/channels/{segment(call.call_id)}/answer")
        await self._ari.request("POST", f"/bridges/{segment(bridge_id)}", params={"type": "mixing"})
        self._bridged.add(BridgedCall(call.call_id, agent_channel, bridge_id))
        await self._ari.request(
            "POST",
            f"/bridges/{segment(bridge_id)}/addChannel",
            params={"channel": f"{call.call_id},{agent_channel}"},
        )
        answered = now()
        log.info("bridged", call_id=call.call_id, agent_channel=agent_channel)
        await self._record(self._recorder.leg_answered(call.call_id, agent_channel, answered))
        await self._record(self._recorder.call_routed(call.call_id, "sticky"))
        await self._release(call, "answered")

    async def _end_bridged(self, bridged: BridgedCall, ended_by: str) -> None:
        """One side of a bridged call hung up: the other goes too, and the call is recorded."""
        side = HangupSide.CALLER if ended_by == bridged.call_id else HangupSide.AGENT
        other = bridged.agent_channel if side is HangupSide.CALLER else bridged.call_id
        await self._hang_up(other)
        with contextlib.suppress(AriError):
            await self._ari.request("DELETE", f"/bridges/{segment(bridged.bridge_id)}")
        ended = now()
        await self._record(
            self._recorder.leg_ended(bridged.call_id, bridged.agent_channel, ended, "ANSWER", side)
        )
        await self._record(self._recorder.call_ended(bridged.call_id, ended, side, "sticky"))

    async def _announce(self, live: LiveCall, sound: str) -> None:
        """Played only once the agent is confirmed free; a missing sound file only costs time."""
        channel = segment(live.call.call_id)
        with contextlib.suppress(AriError):
            await self._ari.request("POST", f"/channels/{channel}/answer")
            await self._ari.request(
                "POST", f"/channels/{channel}/play", params={"media": f"sound:{sound}"}
            )

    async def _miss(self, live: LiveCall, decision: Decision, reason: str) -> None:
        await self._release(live.call, reason)
        await self._fall_back(live, decision, reason)

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
        moved = await self._send_to(call_id, context, variables)
        log.info("fallback", call_id=call_id, reason=reason, context=context, moved=moved)
        if isinstance(decision, StickyDecision):
            await live.started_recorded()
        else:
            await self._record_start(decision)
        outcome = "blocked" if isinstance(decision, BlockedDecision) else "queue"
        if not moved:  # the caller hung up before we could move them
            outcome, reason = "abandoned", QueueReason.CALLER_ABANDONED.value
        await self._record(self._recorder.call_routed(call_id, outcome, reason))

    async def _send_to(self, channel_id: str, context: str, variables: dict[str, str]) -> bool:
        """Leave the channel's variables (inheritable, so Queue() hands them to the agent's
        channel) and continue it in the dialplan."""
        channel = segment(channel_id)
        try:
            await asyncio.gather(
                *(
                    self._ari.request(
                        "POST",
                        f"/channels/{channel}/variable",
                        params={"variable": f"__{name}", "value": value},
                    )
                    for name, value in variables.items()
                )
            )
            await self._ari.request(
                "POST",
                f"/channels/{channel}/continue",
                params={"context": context, "extension": self._targets.extension, "priority": 1},
            )
        except AriError as error:  # the caller already hung up
            log.info("continue_failed", call_id=channel_id, status=error.status)
            return False
        return True

    async def _finish_abandoned(self, live: LiveCall) -> None:
        await live.started_recorded()
        await self._release(live.call, "caller_abandoned")
        await self._record(
            self._recorder.call_ended(
                live.call.call_id, now(), HangupSide.CALLER, "abandoned", "caller_abandoned"
            )
        )

    async def _release(self, call: IncomingCall, outcome: str) -> None:
        await self._record(self._routing.release(call.call_id, outcome, now()))

    async def _record(self, write: Awaitable[object]) -> None:
        """Recording is best effort: a database that stops answering never stops a call."""
        try:
            async with asyncio.timeout(RECORD_TIMEOUT):
                await write
        except Exception as error:
            log.warning("record_failed", error=type(error).__name__)

    async def _hang_up(self, channel_id: str | None) -> None:
        if channel_id is None:
            return
        with contextlib.suppress(AriError):
            await self._ari.request("DELETE", f"/channels/{segment(channel_id)}")

    def _spawn(self, work: Coroutine[Any, Any, object]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self, seconds: float) -> None:
        """On shutdown: take no new call, and let those in the middle of a decision or a ring
        reach the agent or the queue (events keep flowing meanwhile)."""
        self.accepting = False
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=seconds)

    def describe(self) -> dict[str, Any]:
        return {
            "deciding_or_ringing": len(self._calls),
            "bridged": len(self._bridged),
        }


def incoming_call(channel: Event, args: list[str]) -> IncomingCall:
    """The call as the dialplan handed it over: Stasis(app, queue, did, account, ticket,
    menu)."""

    def arg(index: int) -> str | None:
        return args[index].strip() or None if len(args) > index else None

    return IncomingCall(
        call_id=str(channel["id"]),
        caller_id=channel.get("caller", {}).get("number") or None,
        at=now(),
        queue=arg(0) or "support",
        did=arg(1),
        ivr_account=arg(2),
        ivr_ticket=arg(3),
        ivr_menu=arg(4),
    )


# Q.850 causes of an agent leg that ended before it was answered, as dial statuses.
_CAUSE_TO_DIAL_STATUS = {
    17: "BUSY",  # 486 Busy Here
    21: "CONGESTION",  # 603 Decline: rejected
    18: "NOANSWER",  # no user responding (our dial timeout)
    19: "NOANSWER",  # no answer
    16: "NOANSWER",  # normal clearing while ringing: the dial timeout's hang-up
}


def dial_status_of_cause(cause: object) -> str:
    """Anything else (unallocated, unreachable, network failure) counts as offline."""
    return _CAUSE_TO_DIAL_STATUS.get(cause if isinstance(cause, int) else -1, "CHANUNAVAIL")


def _looks_like_agent_leg(channel_id: str) -> bool:
    """Our agent legs are `<caller id>-<agent name>`; Asterisk's own ids are `<epoch>.<n>`."""
    head, _, tail = channel_id.rpartition("-")
    return bool(head) and bool(tail) and not tail.replace(".", "").isdigit()
