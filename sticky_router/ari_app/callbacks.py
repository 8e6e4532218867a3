"""Callbacks being dialled through ARI (routing_core.callback_dialer decides when): the agent's
phone rings first, as a channel this application originates; when the agent answers it enters
the application (StasisStart, arguments `callback,<id>`) and is continued to the dialplan's
`sticky-callback`, which dials the caller and reports how that went (UserEvent
StickyCallbackResult). The channel stays watched to its end.

Every attempt is a call in the history (CallbackDialled: the asking caller's customer and
ticket, sticky to the agent), with the agent's leg, so what is said on it is learned like any
call, and the next callback finds this agent.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import structlog

from sticky_router.ari_app.channels import AriUnavailable, ChannelGone, Channels, Ring
from sticky_router.ari_app.client import Event
from sticky_router.routing_core.events import (
    CallbackDialled,
    CallEnded,
    EventSink,
    LegAnswered,
    LegEnded,
    LegRang,
)
from sticky_router.routing_core.store.callbacks import DueCallback

log = structlog.get_logger("sticky_router.callbacks")

APP_ARGUMENT = "callback"
CONTEXT = "sticky-callback"
# DIALSTATUS of the Dial() to the caller, in the words of the callback's outcome.
CALLER_OUTCOMES = {"ANSWER": "connected", "NOANSWER": "caller_no_answer", "BUSY": "caller_busy"}

Finished = Callable[[int, str], Awaitable[None]]


def now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Dialling:
    callback: DueCallback
    answered: bool = False
    outcome: str | None = None  # from the dialplan's user event, once the caller's Dial ended


class CallbackCalls:
    def __init__(self, channels: Channels, journal: EventSink) -> None:
        self._channels = channels
        self._journal = journal
        self._dialling: dict[str, Dialling] = {}
        self.finished: Finished | None = None  # the dialer's, set when it is wired

    def __len__(self) -> int:
        return len(self._dialling)

    def owns(self, channel_id: str) -> bool:
        return channel_id in self._dialling

    async def ring_agent(self, callback: DueCallback, ring_seconds: int) -> bool:
        channel_id = f"sticky-callback-{callback.id}-{uuid.uuid4().hex[:8]}"
        self._dialling[channel_id] = Dialling(callback)  # before any of its events can come
        ring = Ring(
            endpoint=callback.endpoint,
            app_args=f"{APP_ARGUMENT},{callback.id}",
            # The agent's phone shows whom they are calling back (their own caller).
            caller_id=f'"Callback" <{callback.number}>',
            seconds=ring_seconds,
            variables={"STICKY_CALLBACK_ID": str(callback.id)},
        )
        try:
            await self._channels.originate(channel_id, ring)
        except (AriUnavailable, ChannelGone) as error:
            del self._dialling[channel_id]
            log.warning("callback_not_placed", callback=callback.id, error=str(error))
            return False
        at = now()
        await self._journal.append(
            CallbackDialled(callback.id, channel_id, at),
            LegRang(channel_id, channel_id, callback.endpoint, at),
        )
        return True

    async def answered(self, channel_id: str) -> None:
        """The agent answered (their channel entered the application): the caller is dialled."""
        dialling = self._dialling[channel_id]
        dialling.answered = True
        await self._journal.append(LegAnswered(channel_id, channel_id, now()))
        variables = {
            "STICKY_CALLBACK_NUMBER": dialling.callback.number,
            "STICKY_TARGET": dialling.callback.agent,
        }
        try:
            await self._channels.watch(channel_id)  # its end, after it leaves the application
            await self._channels.set_variables(channel_id, variables)
            await self._channels.continue_in_dialplan(channel_id, CONTEXT, "s")
        except ChannelGone:
            return  # the agent hung up at once: ChannelDestroyed tells the rest
        except AriUnavailable as error:
            log.warning("callback_not_continued", channel=channel_id, error=str(error))
            await self._channels.hang_up(channel_id)

    def result(self, event: Event) -> None:
        """StickyCallbackResult from sticky-callback: how the call to the caller ended."""
        dialling = self._dialling.get(str(event.get("channel", {}).get("id", "")))
        if dialling is None or event.get("eventname") != "StickyCallbackResult":
            return
        status = str(event.get("userevent", {}).get("status", "")).strip().upper()
        dialling.outcome = CALLER_OUTCOMES.get(status, "failed")

    async def gone(self, event: Event) -> None:
        """The agent's channel ended: the attempt's end recorded, the dialer told."""
        channel_id = str(event.get("channel", {}).get("id", ""))
        dialling = self._dialling.pop(channel_id, None)
        if dialling is None:
            return
        at = now()
        if dialling.answered:
            outcome, leg = dialling.outcome or "failed", "ANSWER"
        else:
            outcome, leg = "agent_no_answer", "NOANSWER"
        connected = outcome == "connected"
        await self._journal.append(
            LegEnded(channel_id, channel_id, at, leg),
            CallEnded(channel_id, at, None, "sticky" if connected else "callback",
                      None if connected else outcome),
        )  # fmt: skip
        if self.finished is not None:
            await self.finished(dialling.callback.id, outcome)
