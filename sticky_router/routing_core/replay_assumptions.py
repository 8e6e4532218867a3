"""What the what-if replay assumes because history cannot tell: when an agent was free (only the
recorded legs say so), and what callers do when offered to wait for their busy agent. In one
place, so that every figure that depends on them can state them (the CLI, the settings preview
and the what-if page do; tests/unit/test_simulate.py holds their words to these values).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from sticky_router.routing_core.attempt import Availability as Attempted
from sticky_router.routing_core.decision import Candidate
from sticky_router.routing_core.wait_offer import WaitChoice

if TYPE_CHECKING:
    from sticky_router.routing_core.replay_input import ReplayCall

# The share of callers offered to wait for their busy agent who press 1: an assumption (history
# cannot say), stated with every figure that depends on it.
WAIT_ACCEPT_SHARE = 0.5
CALLBACK_SHARE = 0.3  # of those offered a callback as well, who press 2
CALLBACK_ANSWERED_SHARE = 0.8  # of those, who answer when their agent calls


class Availability(Protocol):
    """When an agent could have taken a call, which history only partly tells."""

    def free_at(self, agent_id: int, at: datetime) -> datetime | None:
        """`at` if the agent was free then, a later time if they were on a call until then, or
        None if they were not there (off shift, logged out): then the router falls back at once."""


class RecordedAvailability:
    """Availability read from the recorded legs alone.

    - An agent is on shift at a moment if they had a leg ringing in that clock hour (no table
      records shifts or pauses; a pause shorter than an hour is invisible and counts as free).
    - An agent is busy while one of their recorded legs that had started rings or talks; they come
      free when the last of those ends.
    Legs must be fed (`observe`) in the order the calls started, after the call was offered.
    """

    def __init__(self, worked_hours: set[tuple[int, int]]) -> None:
        self._worked_hours = worked_hours
        self._busy: dict[int, list[tuple[datetime, datetime]]] = {}

    def observe(self, call: ReplayCall) -> None:
        for leg in call.legs:
            start = leg.rang_at or leg.answered_at
            if start is not None and leg.ended_at is not None and leg.ended_at > start:
                self._busy.setdefault(leg.agent_id, []).append((start, leg.ended_at))

    def free_at(self, agent_id: int, at: datetime) -> datetime | None:
        if (agent_id, hour_index(at)) not in self._worked_hours:
            return None
        spans = self._busy.get(agent_id)
        if not spans:
            return at
        live = [span for span in spans if span[1] > at]
        self._busy[agent_id] = live
        ends = [end for start, end in live if start <= at]
        return max(ends) if ends else at


def hour_index(at: datetime) -> int:
    return int(at.timestamp() // 3600)


class ReplayProbe:
    """The candidate walk's questions, answered from the recorded history at one moment: an
    agent with no call in that clock hour is offline, one whose call still rings or talks is
    busy until it ends. Never suspends (routing_core.candidates.run_at_once)."""

    def __init__(self, availability: Availability, at: datetime, choice: WaitChoice) -> None:
        self._availability = availability
        self._at = at
        self._choice = choice  # what this caller does when offered to wait

    async def claim(self, candidate: Candidate) -> bool:
        return True  # the replay does not model two callbacks racing for one agent

    async def availability(self, candidate: Candidate) -> Attempted:
        free = self._availability.free_at(candidate.agent.id, self._at)
        if free is None:
            return Attempted.OFFLINE
        return Attempted.FREE if free <= self._at else Attempted.BUSY

    async def wait_until_free(
        self, candidate: Candidate, seconds: float
    ) -> tuple[Attempted, float]:
        free = self._availability.free_at(candidate.agent.id, self._at)
        if free is None:
            return Attempted.OFFLINE, 0.0
        needed = max(0.0, (free - self._at).total_seconds())
        return (Attempted.FREE, needed) if needed <= seconds else (Attempted.BUSY, seconds)

    async def let_go(self, candidate: Candidate, reason: str) -> None:
        return None

    async def offer_wait(self, candidate: Candidate) -> WaitChoice:
        return self._choice

    async def wait_on_hold(self, candidate: Candidate, seconds: float) -> tuple[Attempted, float]:
        return await self.wait_until_free(candidate, seconds)


def accepts_wait(call_id: str, share: float) -> bool:
    """Whether this caller is one of the `share` who press 1 when offered to wait: the same
    callers under every set of settings and in every run."""
    return zlib.crc32(call_id.encode()) % 1000 < share * 1000


@dataclass(frozen=True, slots=True)
class CallerChoices:
    """What callers offered to wait for their busy agent do: assumptions history cannot give,
    stated with every figure that depends on them."""

    wait: float = WAIT_ACCEPT_SHARE  # press 1
    callback: float = CALLBACK_SHARE  # press 2, where a callback is offered
    callback_answered: float = CALLBACK_ANSWERED_SHARE  # answer when their agent calls back

    def choice(self, call_id: str, callback_offered: bool) -> WaitChoice:
        """The same callers make the same choice under every set of settings."""
        drawn = zlib.crc32(call_id.encode()) % 1000
        if drawn < self.wait * 1000:
            return WaitChoice.WAIT
        if callback_offered and drawn < (self.wait + self.callback) * 1000:
            return WaitChoice.CALLBACK
        return WaitChoice.NO_KEY

    def answers_callback(self, call_id: str) -> bool:
        return zlib.crc32(f"{call_id}:answers".encode()) % 1000 < self.callback_answered * 1000
