"""A sticky attempt in Asterisk's words: is the agent free to ring, and how did the ringing end.

Pure, no I/O. The ARI application reads the facts through ARI, the FastAGI dialplan reads them
with dialplan functions and hands them over; both judge them here, so "available" and each miss
reason mean the same in both modes (docs/routing.md, "Before ringing").

The facts, as Asterisk gives them:
  members       QUEUE_MEMBER_LIST(queue): the queue's member interfaces, comma-separated; empty
                for a queue that does not exist. The only membership test that tells a member
                from a stranger: QUEUE_MEMBER(queue,paused,interface) says "0" for both.
  paused        QUEUE_MEMBER(queue,paused,interface): "1" paused, "0" not (or not a member).
  device_state  DEVICE_STATE(device) / GET /deviceStates: NOT_INUSE, INUSE, RINGING, ...; for
                an agent whose state interface is an extension's hint (FreePBX, Issabel):
                EXTENSION_STATE(102@ext-local), in the same words plus HOLDINUSE, and UNKNOWN
                for an extension without a hint. DEVICE_STATE(hint:...) is INVALID (measured).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING

from sticky_router.routing_core.dialplan_safe import (
    UnsafeForDialplan,
    is_endpoint,
    is_hint,
    is_queue,
)
from sticky_router.routing_core.model import Agent

if TYPE_CHECKING:  # live.py reads this module's states
    from sticky_router.routing_core.live import MemberFacts

FREE_STATES = frozenset({"NOT_INUSE"})
# Taken, but coming free by itself: the only state worth waiting for (busy_wait_seconds).
BUSY_STATES = frozenset({"INUSE", "BUSY", "RINGING", "RINGINUSE", "ONHOLD", "HOLDINUSE"})


def state_function(state_interface: str) -> str | None:
    """The dialplan function that reads an agent's state: EXTENSION_STATE(102@ext-local) for a
    hint, DEVICE_STATE(PJSIP/agent2) for a device; None for anything else, which must never
    reach a dialplan function (the agent counts as unreachable)."""
    if is_hint(state_interface):
        return f"EXTENSION_STATE({state_interface.removeprefix('hint:')})"
    if is_endpoint(state_interface):
        return f"DEVICE_STATE({state_interface})"
    return None


# The agent check's three facts (membership, pause, state) in one expression, `|` between them:
# no member interface, pause flag or state name holds one. Evaluated on the caller's channel by
# one ARI read (inside EVAL()) or one AGI GET FULL VARIABLE, instead of one request each.
FACTS_SEPARATOR = "|"


def agent_facts(queue: str, agent: Agent) -> str:
    """${QUEUE_MEMBER_LIST(q)}|${QUEUE_MEMBER(q,paused,iface)}|${DEVICE_STATE(dev)}, or
    EXTENSION_STATE for a hint.

    Asterisk evaluates all of it, so each name is held to its pattern here as well as by the
    caller (candidates.queue_to_check): none of them can hold `$`, a brace, a parenthesis, `,`
    or `|`. A state interface of no known kind is not read at all (INVALID: unreachable)."""
    interface = agent.member_interface
    if not (is_queue(queue) and is_endpoint(interface)):
        raise UnsafeForDialplan(f"queue {queue!r} or member interface {interface!r}")
    function = state_function(agent.state_source)
    state = f"${{{function}}}" if function is not None else "INVALID"
    parts = (f"${{QUEUE_MEMBER_LIST({queue})}}", f"${{QUEUE_MEMBER({queue},paused,{interface})}}")
    return FACTS_SEPARATOR.join((*parts, state))


def split_agent_facts(value: str) -> tuple[str, str, str]:
    """(members, paused, state) from the one read, split from the right (the member list has
    commas); nothing known when the value is not three parts (judged: not logged in)."""
    parts = value.rsplit(FACTS_SEPARATOR, 2)
    if len(parts) != 3:
        return "", "", ""
    members, paused, state = parts
    return members, paused, state


class Availability(StrEnum):
    """FREE, or why the agent is not rung; each value is also the call's miss reason."""

    FREE = "free"
    BUSY = "busy"  # on a call, ringing or holding
    PAUSED = "paused"
    WRAP_UP = "wrap_up"  # free, but still in after-call work from their last call
    OFFLINE = "offline"  # not logged in to the queue (never a member, or left it)
    UNREACHABLE = "unreachable"  # a member whose phone Asterisk cannot reach


def is_member(members: str, interface: str) -> bool:
    """Asterisk compares member interfaces without regard to case."""
    wanted = interface.strip().casefold()
    return bool(wanted) and wanted in {m.strip().casefold() for m in members.split(",")}


def availability(
    *,
    members: str,
    interface: str,
    paused: str,
    device_state: str,
    wrapping_up: bool = False,
) -> Availability:
    """Logged out first (no pause or device state of a stranger means anything), then paused,
    then the phone itself; a free phone of an agent still in wrap-up is not free."""
    if not is_member(members, interface):
        return Availability.OFFLINE
    if paused.strip() == "1":
        return Availability.PAUSED
    state = device_state.strip().upper()
    if state in FREE_STATES:
        return Availability.WRAP_UP if wrapping_up else Availability.FREE
    if state in BUSY_STATES:
        return Availability.BUSY
    return Availability.UNREACHABLE  # UNAVAILABLE, INVALID, UNKNOWN, or nothing at all


def availability_of(member: MemberFacts, wrapping_up: bool = False) -> Availability:
    """The same judgement from a membership as AMI reported it (another node's, published by
    its router: routing_core/store/presence.py)."""
    return availability(
        members=member.interface,
        interface=member.interface,
        paused="1" if member.paused else "0",
        device_state=member.device_state,
        wrapping_up=wrapping_up,
    )


# Dial() statuses, in the words of routing.md's miss reasons. BUSY at ring time is a rejection:
# the device state said the phone was free a moment ago, so the agent (or their do-not-disturb)
# turned the call down with 486.
DIAL_MISS_REASONS = {
    "BUSY": "rejected",
    "CONGESTION": "rejected",
    "NOANSWER": "no_answer",
    "CHANUNAVAIL": "unreachable",
}
# Every DIALSTATUS Asterisk 22's Dial() sets (app_dial.c). Anything else reaching us is recorded
# as OTHER: a status is stored and counted in a metric, so the set must stay closed.
DIAL_STATUSES = frozenset(
    {"ANSWER", "BUSY", "NOANSWER", "CANCEL", "CONGESTION", "CHANUNAVAIL", "DONTCALL", "TORTURE",
     "INVALIDARGS"}
)  # fmt: skip


def dial_status(reported: str) -> str:
    """Asterisk's word for how a leg ended, or OTHER; empty (Dial() never ran) is CANCEL."""
    status = reported.strip().upper() or "CANCEL"
    return status if status in DIAL_STATUSES else "OTHER"


# Q.850 causes of an agent leg that turned the call down: 17 user busy (SIP 486), 21 call
# rejected (SIP 603). Dial() does not always say so in DIALSTATUS: measured on 22.10, a 603
# leaves CHANUNAVAIL (or NOANSWER in the ARI Dial event); the caller's HANGUPCAUSE tells.
REJECTING_CAUSES = frozenset({"17", "21"})
CALLER_ABANDONED = "caller_abandoned"
NOT_RUNG = frozenset(a.value for a in Availability if a is not Availability.FREE)


@dataclass(frozen=True, slots=True)
class AttemptOutcome:
    """Where a sticky attempt left the call: `sticky` (connected), `queue` (missed, `reason`
    says why) or `abandoned` (the caller hung up before the agent answered)."""

    outcome: str
    reason: str | None
    rang: bool


def attempt_outcome(status: str, cause: str = "") -> AttemptOutcome:
    """DIALSTATUS (and HANGUPCAUSE) after Dial() to the sticky target, or the availability that
    kept it from being dialled."""
    if status in NOT_RUNG:
        return AttemptOutcome("queue", status, rang=False)
    status = status.strip().upper()
    if status == "ANSWER":
        return AttemptOutcome("sticky", None, rang=True)
    if status == "CANCEL":  # Dial() only says CANCEL when the caller hung up while it rang
        return AttemptOutcome("abandoned", CALLER_ABANDONED, rang=True)
    if not status:  # the caller left before the dial (announcement, busy wait)
        return AttemptOutcome("abandoned", CALLER_ABANDONED, rang=False)
    if cause.strip() in REJECTING_CAUSES:
        return AttemptOutcome("queue", "rejected", rang=True)
    return AttemptOutcome("queue", DIAL_MISS_REASONS.get(status, "no_answer"), rang=True)


def wrapping_up(last_talk_ended_at: datetime | None, now: datetime, wrap_up_seconds: int) -> bool:
    """Still in after-call work: the last answered call ended less than the wrap-up ago."""
    if wrap_up_seconds <= 0 or last_talk_ended_at is None:
        return False
    return now - last_talk_ended_at < timedelta(seconds=wrap_up_seconds)
