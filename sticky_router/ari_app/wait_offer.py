"""The wait offer on a caller's channel in the application (routing_core.wait_offer says what
is offered and why): answer, play the prompts, read the first key (ChannelDtmfReceived, whether
the phone sent RFC 4733 events or SIP INFO), and the hold music while the caller waits.

The caller's key may come while the prompts still play: the playback is stopped and the choice
is theirs at once. The prompts' end is Asterisk's PlaybackFinished for our playback id; the
caller then has `answer_seconds` to press a key.
"""

from __future__ import annotations

import asyncio
import contextlib

import structlog

from sticky_router.ari_app.channels import AriUnavailable, ChannelGone, Channels
from sticky_router.routing_core.wait_offer import CALLBACK_CONFIRMED, WaitChoice, WaitOffer

log = structlog.get_logger("sticky_router.ari")

# The prompts take about 10 s: a playback that never reports its end (lost event, a sound
# Asterisk cannot find) still gives way to the queue after this.
LONGEST_PROMPTS = 40.0


class CallerKeys:
    """What the application hears from one caller's channel while it asks them something."""

    def __init__(self) -> None:
        self.pressed: asyncio.Queue[str] = asyncio.Queue()
        self.played: set[str] = set()  # playback ids Asterisk said are finished
        self._played_changed = asyncio.Event()

    def key(self, digit: str) -> None:
        self.pressed.put_nowait(digit)

    def playback_finished(self, playback_id: str) -> None:
        self.played.add(playback_id)
        self._played_changed.set()

    async def finished(self, playback_id: str) -> None:
        while playback_id not in self.played:
            self._played_changed.clear()
            await self._played_changed.wait()


async def ask_to_wait(
    channels: Channels,
    channel_id: str,
    keys: CallerKeys,
    caller_gone: asyncio.Event,
    offer: WaitOffer,
    language: str,
) -> WaitChoice:
    """Answer, say the offer, and return the caller's choice. A caller who hangs up meanwhile
    is reported as `caller_gone` (and NO_KEY returned); ARI failing raises AriUnavailable, which
    the safety net answers with the queue."""
    playback = f"sticky-offer-{channel_id}"
    try:
        await channels.answer(channel_id)
        await channels.play(channel_id, offer.sounds, playback_id=playback, language=language)
    except ChannelGone:
        caller_gone.set()
        return WaitChoice.NO_KEY
    key = await _first_key(keys, playback, caller_gone, offer.answer_seconds)
    if key:
        await best_effort_stop(channels, playback)
    choice = offer.choice(key)
    log.info("wait_offered", call_id=channel_id, choice=choice.value)
    return choice


async def _first_key(
    keys: CallerKeys, playback: str, caller_gone: asyncio.Event, answer_seconds: float
) -> str:
    """The first key pressed during the prompts or `answer_seconds` after; "" for none."""
    pressed = asyncio.ensure_future(keys.pressed.get())
    gone = asyncio.ensure_future(caller_gone.wait())
    try:
        spoken = asyncio.ensure_future(keys.finished(playback))
        try:
            await asyncio.wait({pressed, gone, spoken}, timeout=LONGEST_PROMPTS,
                               return_when=asyncio.FIRST_COMPLETED)  # fmt: skip
        finally:
            spoken.cancel()
        if not pressed.done() and not gone.done():
            await asyncio.wait({pressed, gone}, timeout=answer_seconds,
                               return_when=asyncio.FIRST_COMPLETED)  # fmt: skip
        return pressed.result() if pressed.done() and not gone.done() else ""
    finally:
        pressed.cancel()
        gone.cancel()


async def best_effort_stop(channels: Channels, playback: str) -> None:
    with contextlib.suppress(AriUnavailable):
        await channels.stop_playback(playback)


async def music_on(channels: Channels, channel_id: str, on: bool) -> None:
    """Hold music for a caller who chose to wait; without it they hear silence, nothing worse."""
    try:
        await channels.hold(channel_id, on)
    except (AriUnavailable, ChannelGone) as error:
        log.warning("hold_music_failed", call_id=channel_id, on=on, error=str(error))


async def say_and_hang_up(
    channels: Channels, channel_id: str, keys: CallerKeys, caller_gone: asyncio.Event,
    language: str,
) -> None:  # fmt: skip
    """ "Thank you. Your agent will call you back.", then the call ends (the caller may hang up
    first: nothing is lost, the callback is already in the journal)."""
    playback = f"sticky-confirm-{channel_id}"
    try:
        await channels.play(channel_id, (CALLBACK_CONFIRMED,), playback_id=playback,
                            language=language)  # fmt: skip
        spoken = asyncio.ensure_future(keys.finished(playback))
        gone = asyncio.ensure_future(caller_gone.wait())
        try:
            await asyncio.wait({spoken, gone}, timeout=LONGEST_PROMPTS,
                               return_when=asyncio.FIRST_COMPLETED)  # fmt: skip
        finally:
            spoken.cancel()
            gone.cancel()
        await channels.hang_up(channel_id)
    except ChannelGone:
        caller_gone.set()
