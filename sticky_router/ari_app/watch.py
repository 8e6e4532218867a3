"""Calls handed to the dialplan's Dial() (context sticky-ring): what the application still hears.

The caller's channel stays subscribed after it leaves Stasis(), so its events keep coming:
  Dial (caller = the caller, peer = the agent's new channel), dialstatus "" when ringing starts,
      then ANSWER, BUSY, NOANSWER, CHANUNAVAIL, CONGESTION or CANCEL;
  ChannelUserevent StickyRingMissed, from sticky-ring after a Dial() that was not answered,
      with DIALSTATUS and HANGUPCAUSE (a 603 Decline leaves DIALSTATUS CHANUNAVAIL);
  ChannelHangupRequest (no `soft`: the caller's phone hung up; `soft`: Asterisk ended it, as the
      dialplan's Hangup() does after the agent hung up) and ChannelDestroyed.
Only the first dialled channel is the sticky leg: later dials of the same caller (a transfer,
the queue after a miss) belong to the AMI learner, which records them for every call alike.
After a miss the call is the queue's, and the application stops listening.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from datetime import UTC, datetime

import structlog

from sticky_router.ari_app.best_effort import best_effort
from sticky_router.ari_app.channels import AriUnavailable, ChannelGone, Channels
from sticky_router.ari_app.client import Event
from sticky_router.routing_core import HangupSide, RoutingService
from sticky_router.routing_core.attempt import attempt_outcome
from sticky_router.routing_core.events import (
    CallEnded,
    CallRouted,
    EventSink,
    LegAnswered,
    LegEnded,
    LegRang,
)

log = structlog.get_logger("sticky_router.ari")

PROGRESS = frozenset({"", "RINGING", "PROGRESS", "PROCEEDING"})
RING_MISSED_EVENT = "StickyRingMissed"  # the UserEvent of dialplan context sticky-ring


def now() -> datetime:
    return datetime.now(UTC)


@dataclass
class HandedOver:
    call_id: str
    endpoint: str
    recorded: asyncio.Task[None] | None  # the call's first record: later ones update its row
    leg_id: str | None = None
    answered: bool = False
    caller_hung_up: bool = False


class HandedOverCalls:
    def __init__(
        self,
        channels: Channels,
        journal: EventSink,
        routing: RoutingService,
    ) -> None:
        self._channels = channels
        self._journal = journal
        self._routing = routing
        self._calls: dict[str, HandedOver] = {}

    def __len__(self) -> int:
        return len(self._calls)

    def add(self, call_id: str, endpoint: str, recorded: asyncio.Task[None] | None) -> None:
        self._calls[call_id] = HandedOver(call_id, endpoint, recorded)

    def forget(self, call_id: str) -> None:
        self._calls.pop(call_id, None)

    async def dial(self, event: Event) -> None:
        call = self._calls.get(event.get("caller", {}).get("id", ""))
        peer = str(event.get("peer", {}).get("id", ""))
        if call is None or not peer:
            return
        status = str(event.get("dialstatus", ""))
        if call.leg_id is None:
            call.leg_id = peer
            await self._rang(call)
        if peer != call.leg_id or status in PROGRESS:
            return
        if status != "ANSWER":
            # A miss is reported by the dialplan's StickyRingMissed event, which also knows the
            # hang-up cause; CANCEL (the caller hung up) by the caller's ChannelDestroyed.
            return
        call.answered = True
        log.info("sticky_answered", call_id=call.call_id)
        await self._settled(call)
        await self._journal.append(
            LegAnswered(call.call_id, peer, now()), CallRouted(call.call_id, "sticky")
        )
        await best_effort(self._routing.release(call.call_id, "answered", now()))

    async def ring_missed(self, event: Event) -> None:
        """UserEvent(StickyRingMissed,status: ${DIALSTATUS},cause: ${HANGUPCAUSE}) from
        sticky-ring: the dialplan moves the caller on to the queue, and from here on the call
        is like any queued one."""
        call = self._calls.get(event.get("channel", {}).get("id", ""))
        if call is None or event.get("eventname") != RING_MISSED_EVENT:
            return
        fields = {str(k).lower(): str(v) for k, v in (event.get("userevent") or {}).items()}
        status, cause = fields.get("status", ""), fields.get("cause", "")
        outcome = attempt_outcome(status or "NOANSWER", cause)
        log.info("sticky_missed", call_id=call.call_id, dial_status=status, cause=cause)
        self.forget(call.call_id)
        await self._settled(call)
        ended = now()
        if call.leg_id is not None:
            await self._journal.append(LegEnded(call.call_id, call.leg_id, ended, status))
        await self._journal.append(CallRouted(call.call_id, "queue", outcome.reason))
        await best_effort(self._routing.release(call.call_id, str(outcome.reason), ended))
        with contextlib.suppress(AriUnavailable, ChannelGone):
            await self._channels.unsubscribe(f"channel:{call.call_id}")

    async def gone(self, event: Event) -> None:
        call = self._calls.get(event.get("channel", {}).get("id", ""))
        if call is None:
            return
        if event.get("type") == "ChannelHangupRequest":
            call.caller_hung_up = call.caller_hung_up or not event.get("soft", False)
            return
        if event.get("type") != "ChannelDestroyed":
            return  # StasisEnd: the hand-over itself
        self.forget(call.call_id)
        await self._settled(call)
        ended = now()
        if call.answered:
            side = HangupSide.CALLER if call.caller_hung_up else HangupSide.AGENT
            if call.leg_id is not None:
                await self._journal.append(
                    LegEnded(call.call_id, call.leg_id, ended, "ANSWER", side)
                )
            await self._journal.append(CallEnded(call.call_id, ended, side, "sticky"))
            return
        # Gone before anyone answered: an abandon (while announced or ringing).
        if call.leg_id is not None:
            await self._journal.append(
                LegEnded(call.call_id, call.leg_id, ended, "CANCEL", HangupSide.CALLER)
            )
        await best_effort(self._routing.release(call.call_id, "caller_abandoned", ended))
        await self._journal.append(
            CallEnded(call.call_id, ended, HangupSide.CALLER, "abandoned", "caller_abandoned")
        )

    async def _rang(self, call: HandedOver) -> None:
        await self._settled(call)
        assert call.leg_id is not None
        await self._journal.append(LegRang(call.call_id, call.leg_id, call.endpoint, now()))

    @staticmethod
    async def _settled(call: HandedOver) -> None:
        """Wait for the call's first record (started, decided): the others update its row."""
        if call.recorded is not None:
            with contextlib.suppress(Exception):
                await call.recorded
