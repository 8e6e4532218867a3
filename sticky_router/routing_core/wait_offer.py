"""The wait offer: when the caller's own agent is on another call, the caller chooses.

Pure, no I/O. The ARI application and the FastAGI lookup both play the same prompts and read the
same key (DTMF only: callers often ring because their internet is down); the what-if replay
models the same choice with a stated share of callers who accept.

  "Your agent is on another call. [About 3 minutes.] To wait for your agent, press 1. Or stay
   on the line for the next free agent."

1: wait for that agent, on hold with the queue's music, until they are free (the wait ends the
moment their phone is) or `wait_offer_seconds` pass (then the queue). 2, when callbacks are on
(`callback_expiry_minutes`) and we have a number to call: that agent calls them back (a task the
agent owns; "Thank you. Your agent will call you back.", and the call ends). Any other key, or
nothing within `wait_offer_answer_seconds` after the prompts: the queue at once, without
further waits.

The estimate comes from the agent's current call (how long it has run) and their typical talk
time (the median of their answered calls in the last 30 days): what is typically left of it,
rounded up to whole minutes, at least one. An agent with no typical talk time gets no estimate.
A wait we would cut off is never offered: when the estimate is longer than the bound, the
caller is not asked and goes on as without the offer.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sticky_router.routing_core.decision import StickyDecision
from sticky_router.routing_core.events import CallbackRequested

WAIT_KEY = "1"
CALLBACK_KEY = "2"
FOLDER = "sticky-router"
ON_ANOTHER_CALL = f"{FOLDER}/agent-on-another-call"
PRESS_1_TO_WAIT = f"{FOLDER}/press-1-to-wait"
PRESS_1_OR_2 = f"{FOLDER}/press-1-to-wait-or-2-for-a-callback"
CALLBACK_CONFIRMED = f"{FOLDER}/callback-confirmed"
# One prompt per whole minute (said right in each language: "около одной минуты", "около трёх
# минут"), not a number read out by Asterisk: its Russian say.conf needs core sounds a line may
# lack.
MOST_MINUTES_SAID = 10


def about_minutes(minutes: int) -> str:
    return f"{FOLDER}/about-{minutes}-minutes"


class WaitChoice(StrEnum):
    """What came of the offer; each value is also a metric label."""

    WAIT = "wait"  # pressed 1: waits for their agent
    CALLBACK = "callback"  # pressed 2 (when offered): their agent calls them back
    DECLINED = "declined"  # pressed another key: the next free agent
    NO_KEY = "no_key"  # pressed nothing: the next free agent
    NOT_OFFERED = "not_offered"  # the estimate was longer than the wait we allow


def choice_of(key: str, callback_offered: bool = False) -> WaitChoice:
    """The first key the caller pressed ("" for none)."""
    if not key:
        return WaitChoice.NO_KEY
    if key == CALLBACK_KEY and callback_offered:
        return WaitChoice.CALLBACK
    return WaitChoice.WAIT if key == WAIT_KEY else WaitChoice.DECLINED


def estimated_minutes(elapsed_seconds: float | None, typical_seconds: float | None) -> int | None:
    """What is typically left of the agent's current call, in whole minutes (1 at least, since
    they are on it now); None when the agent has no typical talk time."""
    if typical_seconds is None or typical_seconds <= 0:
        return None
    left = typical_seconds - max(0.0, elapsed_seconds or 0.0)
    return max(1, math.ceil(left / 60))


@dataclass(frozen=True, slots=True)
class WaitOffer:
    """What the caller hears, and how long they may take to answer and to wait."""

    sounds: tuple[str, ...]
    answer_seconds: float
    wait_seconds: float
    callback: bool = False  # 2 asks for a callback

    def choice(self, key: str) -> WaitChoice:
        return choice_of(key, self.callback)


def wait_offer(
    estimate_minutes: int | None,
    *,
    answer_seconds: float,
    wait_seconds: float,
    callback: bool = False,
) -> WaitOffer | None:
    """The offer to play, or None: an estimate longer than the wait allowed is not offered."""
    if wait_seconds <= 0:
        return None
    if estimate_minutes is not None and estimate_minutes * 60 > wait_seconds + 59:
        return None  # "about 4 minutes" when we hang on for 3 would be a promise we break
    sounds = [ON_ANOTHER_CALL]
    if estimate_minutes is not None and estimate_minutes <= MOST_MINUTES_SAID:
        sounds.append(about_minutes(estimate_minutes))
    sounds.append(PRESS_1_OR_2 if callback else PRESS_1_TO_WAIT)
    return WaitOffer(tuple(sounds), answer_seconds, wait_seconds, callback)


_DIALLABLE = re.compile(r"\+?[0-9]{3,20}")


def callback_number(decision: StickyDecision) -> str | None:
    """The number a callback would dial (the caller's, as the lookup normalised it), or None
    when there is nothing safe to dial: then no callback is offered."""
    number = decision.context.number
    return number if number is not None and _DIALLABLE.fullmatch(number) else None


def callback_request(decision: StickyDecision, at: datetime) -> CallbackRequested | None:
    """The callback the caller asked for: owned by their agent (the first candidate) until the
    setting's minutes pass."""
    number = callback_number(decision)
    minutes = decision.context.settings.values.callback_expiry_minutes
    if number is None or minutes <= 0 or not decision.candidates:
        return None
    call = decision.context.call
    return CallbackRequested(
        call.call_id, decision.candidates[0].agent.name, number, call.queue, at,
        at + timedelta(minutes=minutes),
    )  # fmt: skip
