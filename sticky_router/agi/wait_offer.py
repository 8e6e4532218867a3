"""The wait offer through the caller's own AGI session (routing_core.wait_offer says what is
offered and why): answer, say the prompts with STREAM FILE (any key interrupts them), wait for a
key with WAIT FOR DIGIT, and hold music (SET MUSIC) while the caller waits for their agent.
Asterisk hears the key whether the phone sent RFC 4733 events or SIP INFO.

A caller who hangs up meanwhile raises AgiHangup from the next command, as everywhere in the
lookup (the hangup handler records the end).
"""

from __future__ import annotations

from sticky_router.agi.protocol import AgiSession, quote
from sticky_router.routing_core.dialplan_safe import is_language
from sticky_router.routing_core.wait_offer import WaitChoice, WaitOffer

ANY_KEY = "0123456789*#"
LONGEST_PROMPT = 20.0  # seconds STREAM FILE may take for one of the offer's prompts


async def ask_to_wait(session: AgiSession, offer: WaitOffer, language: str) -> WaitChoice:
    await session.command("ANSWER")
    if is_language(language):
        # STREAM FILE looks in sounds/<language>/ first, as Playback() does.
        await session.command(f"SET VARIABLE CHANNEL(language) {quote(language)}")
    key = ""
    for sound in offer.sounds:
        reply = await session.command(
            f"STREAM FILE {quote(sound)} {quote(ANY_KEY)}", takes=LONGEST_PROMPT
        )
        if reply.result > 0:  # the key that interrupted it; 0: said to the end; -1: not found
            key = chr(reply.result)
            break
    if not key:
        milliseconds = int(offer.answer_seconds * 1000)
        reply = await session.command(f"WAIT FOR DIGIT {milliseconds}", takes=offer.answer_seconds)
        key = chr(reply.result) if reply.result > 0 else ""
    return offer.choice(key)


async def hold_music(session: AgiSession, on: bool) -> None:
    """The channel's music on hold class (`default` unless the dialplan chose one)."""
    await session.command("SET MUSIC ON" if on else "SET MUSIC OFF")


async def say(session: AgiSession, sound: str) -> None:
    """One prompt to the end (no key interrupts it)."""
    await session.command(f'STREAM FILE {quote(sound)} ""', takes=LONGEST_PROMPT)
