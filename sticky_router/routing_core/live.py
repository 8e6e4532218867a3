"""The line right now, as a supervisor's live view shows it: each agent's state from what
Asterisk says of their queue memberships (pure, no I/O).

The facts come from AMI's queue member events (the ami adapter keeps them); wrap-up comes from
the recorded calls, as for routing (Asterisk tells no member's wrap-up state).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from sticky_router.routing_core.attempt import BUSY_STATES, FREE_STATES


@dataclass(frozen=True, slots=True)
class MemberFacts:
    """One queue membership as Asterisk reports it."""

    queue: str
    interface: str  # the member interface: PJSIP/agent2, Local/102@from-queue/n
    device_state: str  # NOT_INUSE, INUSE, RINGING, ... (the member's state interface)
    paused: bool
    pause_reason: str = ""


class AgentState(StrEnum):
    FREE = "free"
    RINGING = "ringing"
    BUSY = "busy"  # talking or holding
    PAUSED = "paused"
    WRAP_UP = "wrap_up"
    LOGGED_OUT = "logged_out"
    UNREACHABLE = "unreachable"


RINGING_STATES = frozenset({"RINGING", "RINGINUSE"})


def agent_state(
    memberships: Sequence[MemberFacts],
    *,
    wrapping_up: bool,
    ringing: bool = False,
    talking: bool = False,
) -> AgentState:
    """An agent's state over all their queues. `ringing` and `talking` are what the recorded
    calls say (a leg of theirs ringing or answered now): a line whose phones are BUSY from their
    first channel (device_state_busy_at = 1, common) never reports RINGING. A call outranks a
    pause (a paused agent still talking is busy), and a pause counts only when every membership
    is paused."""
    states = {m.device_state for m in memberships}
    if ringing or states & RINGING_STATES:
        return AgentState.RINGING
    if talking or states & BUSY_STATES:
        return AgentState.BUSY
    if not memberships:
        return AgentState.LOGGED_OUT
    if not states & FREE_STATES:
        return AgentState.UNREACHABLE
    if all(m.paused for m in memberships):
        return AgentState.PAUSED
    if wrapping_up:
        return AgentState.WRAP_UP
    return AgentState.FREE
