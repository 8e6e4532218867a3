"""The what-if replay's figures: what one call would have done under one set of settings
(`Outcome`), and the sums over the replayed period (`Tally`)."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field

from sticky_router.routing_core.decision import (
    Decision,
    QueueReason,
)


@dataclass(slots=True)  # not frozen: built twice per replayed call, and frozen init is slow
class Outcome:
    """What one call would have done under one set of settings."""

    route: str  # sticky (connected to the preferred agent), queue, blocked
    reason: str  # the candidate reason when connected, else the miss reason
    eligible: bool  # the policy named a target from the caller's history
    agent_id: int | None = None
    wait_seconds: float = 0.0
    decision: Decision | None = field(default=None, compare=False)
    callback_after: float | None = None  # a callback made: seconds from the call until it


@dataclass(slots=True)
class Tally:
    """The figures of one set of settings over the replayed period."""

    calls: int = 0
    eligible: int = 0
    connected: int = 0
    wait_added_seconds: float = 0.0
    misses: Counter[str] = field(default_factory=Counter)
    # Callers who waited for their agent (busy wait or wait offer): how many waited how many
    # whole seconds, for the median.
    waits: Counter[int] = field(default_factory=Counter)
    # Callbacks made (the wait offer's 2): how many came after how many whole minutes.
    callbacks: Counter[int] = field(default_factory=Counter)
    sticky_load: Counter[int] = field(default_factory=Counter)  # connected callbacks per agent
    peak_hour_load: Counter[int] = field(default_factory=Counter)  # most in one hour, per agent

    @property
    def connected_share(self) -> float:
        return self.connected / self.eligible if self.eligible else 0.0

    @property
    def median_wait_seconds(self) -> int:
        """The median wait of the callers who waited for their agent (0: nobody waited)."""
        return _median(self.waits)

    @property
    def median_callback_minutes(self) -> int:
        """The median time from the call to the callback that reached the caller."""
        return _median(self.callbacks)

    def add(self, outcome: Outcome) -> None:
        self.calls += 1
        self.eligible += outcome.eligible
        self.wait_added_seconds += outcome.wait_seconds
        if outcome.wait_seconds > 0:
            self.waits[math.ceil(outcome.wait_seconds)] += 1
        if outcome.callback_after is not None:
            self.callbacks[math.ceil(outcome.callback_after / 60)] += 1
        if outcome.route == "sticky" and outcome.agent_id is not None:
            self.connected += 1
            self.sticky_load[outcome.agent_id] += 1
        elif outcome.eligible or outcome.reason == QueueReason.WINDOW_EXPIRED.value:
            # Misses are the calls stickiness could have helped; first-time callers are not.
            self.misses[outcome.reason] += 1


def _median(counts: Counter[int]) -> int:
    half, counted = sum(counts.values()) / 2, 0
    for value in sorted(counts):
        counted += counts[value]
        if counted >= half:
            return value
    return 0
