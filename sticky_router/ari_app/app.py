"""The Stasis application: each support call gets a decision, a sticky attempt, or the queue.

Flow of one call (routing.md, "The attempt"):
  StasisStart -> decision (within the database budget) -> queue at once, or:
  is the agent free (queue membership, pause, device state)? -> optional wait while busy ->
  hand the caller to the dialplan context `sticky-ring`, which announces, rings the agent with
  Dial() for the ring timeout, and on any miss goes on to the queue by itself.
When in doubt, the caller goes to the queue.

Why the agent is rung by the dialplan and not from the application (decided on Asterisk 22.10):
a call the application bridges itself sits in a Stasis bridge, where Asterisk runs no transfer
feature codes at all, and where a phone's SIP REFER puts a Local channel into the application
that the application then has to drive through every transfer outcome (target busy, no
answer, attended transfers with Replaces). In an ordinary Dial() bridge Asterisk handles blind
and attended transfers, REFER and feature codes itself, exactly as for the queue's calls, and
a router restart cannot touch a connected call. The application keeps what only it can do:
decide, check the agent, wait, and record. It keeps watching the caller's channel after the
hand-over (an explicit subscription outlives Stasis) to record the ring's outcome and the end.

  app.py       event dispatch, the calls in the application, the safety net
  attempt.py   one sticky attempt up to the hand-over
  watch.py     a handed-over call: the Dial outcome and the end, recorded
  resync.py    after a reconnect, and periodically: nobody left in the application undriven
  callbacks.py a callback the dialer places: the agent rung first, then the caller
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from datetime import UTC, datetime
from typing import Any

import structlog

from sticky_router.ari_app.attempt import Attempt, DialplanTargets, LiveCall
from sticky_router.ari_app.availability import DeviceWatch
from sticky_router.ari_app.callbacks import APP_ARGUMENT as CALLBACK_ARGUMENT
from sticky_router.ari_app.callbacks import CallbackCalls
from sticky_router.ari_app.channels import AriChannels, AriUnavailable, Channels
from sticky_router.ari_app.client import AriClient, Event
from sticky_router.ari_app.resync import Sweeper
from sticky_router.ari_app.watch import HandedOverCalls
from sticky_router.routing_core import IncomingCall, RoutingService
from sticky_router.routing_core.dialplan_safe import CallArguments
from sticky_router.routing_core.events import EventSink

log = structlog.get_logger("sticky_router.ari")

# Stasis(sticky-router, queue, did, account, ticket, menu): what dialplan/sticky-router.conf passes.
STASIS_ARGUMENTS = 5
# What on_event acts on; Asterisk is told to send nothing else. A caller we watch after handing
# them to the dialplan would otherwise bring a ChannelVarset and a ChannelDialplan event for
# every step of sticky-unpack and sticky-ring, which Asterisk serialises before the agent's phone
# rings (measured: 22 ms from the hand-over to the Dial, 4-10 ms with the filter).
HANDLED_EVENTS = (
    "StasisStart",
    "StasisEnd",
    "Dial",
    "ChannelUserevent",
    "ChannelHangupRequest",
    "ChannelDestroyed",
    "DeviceStateChanged",
    "ChannelDtmfReceived",  # the caller's key when offered to wait
    "PlaybackFinished",
    "CallBroadcast",  # a caller StasisBroadcast() offers to every router of this Asterisk
)

__all__ = ["DialplanTargets", "StickyRouterApp", "incoming_call"]


def now() -> datetime:
    return datetime.now(UTC)


class StickyRouterApp:
    def __init__(
        self,
        client: AriClient,
        routing: RoutingService,
        journal: EventSink,
        targets: DialplanTargets | None = None,
        channels: Channels | None = None,
    ) -> None:
        self._channels = channels or AriChannels(client)
        self._targets = targets or DialplanTargets()
        self._devices = DeviceWatch()
        self._calls: dict[str, LiveCall] = {}
        self._handed_over = HandedOverCalls(self._channels, journal, routing)
        self._attempt = Attempt(
            self._channels, routing, journal, self._targets, self._devices, self._handed_over
        )
        self.callbacks = CallbackCalls(self._channels, journal)
        self._sweeper = Sweeper(
            self._channels,
            self._targets.queue_context,
            self._targets.extension,
            lambda channel_id: channel_id in self._calls or self.callbacks.owns(channel_id),
            self._orphaned,
        )
        # Several routers for this Asterisk: the ARI applications of those that stopped beating
        # (set by the process; None: nobody else's callers are looked for).
        self.dead_routers: Callable[[], Awaitable[set[str]]] | None = None
        self._tasks: set[asyncio.Task[object]] = set()
        self.accepting = True  # False while the process shuts down: new calls go to the queue

    # -- events -------------------------------------------------------------------------------

    async def on_event(self, event: Event) -> None:
        kind = event.get("type")
        if kind == "StasisStart":
            self._stasis_start(event)
        elif kind == "CallBroadcast":
            self._offered(str(event.get("channel", {}).get("id", "")))
        elif kind == "Dial":
            await self._handed_over.dial(event)
        elif kind == "ChannelUserevent":
            self.callbacks.result(event)
            await self._handed_over.ring_missed(event)
        elif kind in ("ChannelHangupRequest", "ChannelDestroyed", "StasisEnd"):
            self._gone(event)
            await self._handed_over.gone(event)
            if kind == "ChannelDestroyed":
                await self.callbacks.gone(event)
        elif kind == "DeviceStateChanged":
            self._devices.changed(str(event.get("device_state", {}).get("name", "")))
        elif kind == "ChannelDtmfReceived":
            live = self._calls.get(str(event.get("channel", {}).get("id", "")))
            if live is not None:
                live.keys.key(str(event.get("digit", "")))
        elif kind == "PlaybackFinished":
            playback = event.get("playback", {})
            target = str(playback.get("target_uri", "")).removeprefix("channel:")
            live = self._calls.get(target)
            if live is not None:
                live.keys.playback_finished(str(playback.get("id", "")))

    async def on_connected(self) -> None:
        """After every (re)connect: Asterisk is told which events we handle, and callers an
        earlier router left in the application (it died in the middle of a decision) go to
        the queue."""
        try:
            await self._channels.receive_only(HANDLED_EVENTS)
        except AriUnavailable as error:
            # Only slower: every event still arrives, and on_event ignores what it does not know.
            log.warning("ari_event_filter_refused", error=str(error))
        await self._sweeper.sweep()

    def _stasis_start(self, event: Event) -> None:
        channel = event["channel"]
        args = [str(arg) for arg in event.get("args") or []]
        if args[:1] == [CALLBACK_ARGUMENT]:
            self._callback_answered(str(channel["id"]))
            return
        if not self.accepting:
            self._spawn(self._attempt.to_queue(str(channel["id"]), "router_stopping"))
            return
        call = incoming_call(channel, args)
        live = LiveCall(call)
        self._calls[call.call_id] = live
        self._spawn(self._handle(live))

    async def _orphaned(self) -> list[dict[str, Any]]:
        """The callers dead routers had claimed and left in their applications."""
        if self.dead_routers is None:
            return []
        gone = await self.dead_routers()
        return await self._channels.held_by(gone) if gone else []

    def _offered(self, channel_id: str) -> None:
        """Several routers for one Asterisk (dialplan STICKY_BROADCAST_MS): the first to claim
        a caller gets their StasisStart. A router shutting down lets the others take it."""
        if channel_id and self.accepting:
            self._spawn(self._claim(channel_id))

    async def _claim(self, channel_id: str) -> None:
        try:
            won = await self._channels.claim(channel_id)
        except AriUnavailable as error:  # another router claims it, or the broadcast times out
            log.warning("claim_failed", call_id=channel_id, error=str(error))
            return
        log.debug("broadcast_claimed" if won else "broadcast_lost", call_id=channel_id)

    def _callback_answered(self, channel_id: str) -> None:
        """An agent answered a callback this router rang; one another router (or this one
        before a restart) rang is not ours to drive, and is hung up: the dialer tries again."""
        if self.callbacks.owns(channel_id):
            self._spawn(self.callbacks.answered(channel_id))
        else:
            self._spawn(self._channels.hang_up(channel_id))

    def _gone(self, event: Event) -> None:
        live = self._calls.get(event.get("channel", {}).get("id", ""))
        if live is None:
            return
        if event.get("type") == "StasisEnd" and live.handed_over:
            return  # we moved the caller on ourselves
        live.caller_gone.set()

    # -- one call -----------------------------------------------------------------------------

    async def _handle(self, live: LiveCall) -> None:
        call_id = live.call.call_id
        try:
            await self._attempt.run(live)
        except Exception:
            # The safety net: whatever broke, the caller goes to the queue.
            log.exception("call_failed", call_id=call_id)
            await self._attempt.rescue(live)
        finally:
            self._calls.pop(call_id, None)

    def _spawn(self, work: Coroutine[Any, Any, object]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self, seconds: float) -> None:
        """On shutdown: take no new call, and let those in the middle of a decision or a busy
        wait reach the dialplan (events keep flowing meanwhile)."""
        self.accepting = False
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=seconds)

    def run_sweeps(self, every: float) -> asyncio.Task[None]:
        """Hand back to the dialplan, every `every` seconds, any caller nothing drives."""
        return asyncio.get_running_loop().create_task(self._sweeper.run(every))

    def describe(self) -> dict[str, Any]:
        return {
            "deciding": len(self._calls),
            "handed_over": len(self._handed_over),
            "callbacks_dialling": len(self.callbacks),
        }


def incoming_call(channel: Event, args: list[str]) -> IncomingCall:
    """The call as the dialplan handed it over: Stasis(app, queue, did, account, ticket,
    menu)."""

    def arg(index: int) -> str | None:
        return args[index].strip() or None if len(args) > index else None

    split = len(args) > STASIS_ARGUMENTS
    checked = CallArguments.check(arg(0), arg(1), arg(2), arg(3), arg(4), split=split)
    call_id = str(channel["id"])
    if checked.refused:
        # A dialplan that let a caller's `,` or worse through: not what the values claim.
        log.warning("stasis_arguments_refused", call_id=call_id, refused=checked.refused,
                    arguments=len(args))  # fmt: skip
    return IncomingCall(
        call_id=call_id,
        caller_id=channel.get("caller", {}).get("number") or None,
        at=now(),
        queue=checked.queue,
        did=checked.did,
        ivr_account=checked.ivr_account,
        ivr_ticket=checked.ivr_ticket,
        ivr_menu=checked.ivr_menu,
    )
