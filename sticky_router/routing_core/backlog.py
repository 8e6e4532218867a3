"""Outage mode that starts and ends by itself, from the queue's backlog (issue 16).

An ISP's bad day shows in its queues before anyone declares it: a thousand subscribers call about
one fibre cut, callers pile up, the longest wait grows, and stickiness only lengthens the queue
(callers held for agents who will be busy all afternoon). So, per queue, with the queue's own
settings:

- start: at least `auto_outage_waiting_callers` callers waiting AND the longest of them waiting
  at least `auto_outage_longest_wait_seconds` (0 callers: off). A long wait is itself sustained,
  so a momentary spike of callers does not start it.
- end: once the backlog has stayed under half of either threshold (hysteresis: it does not flap
  around the thresholds) for `auto_outage_clear_seconds`.

Only incidents it started itself are ended by it; while one a supervisor declared covers the
queue (or every call), it starts nothing. A backlog is no proof of an outage, so an automatic
incident plays no notice to callers: a supervisor who knows the cause declares one with its
notice. Pure: the watch (backlog_watch.py) feeds it what Asterisk reports.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import StrEnum

from sticky_router.routing_core.settings import RoutingSettings


class Verdict(StrEnum):
    START = "start"
    END = "end"
    KEEP = "keep"  # nothing to change


@dataclass(frozen=True, slots=True)
class Thresholds:
    waiting_callers: int  # 0: automatic outage mode off for the queue
    longest_wait_seconds: int
    clear_seconds: int

    @classmethod
    def of(cls, knobs: RoutingSettings) -> Thresholds:
        return cls(
            knobs.auto_outage_waiting_callers,
            knobs.auto_outage_longest_wait_seconds,
            knobs.auto_outage_clear_seconds,
        )

    def over(self, waiting: int, longest: float) -> bool:
        return waiting >= self.waiting_callers and longest >= self.longest_wait_seconds

    def cleared(self, waiting: int, longest: float) -> bool:
        return (
            waiting < math.ceil(self.waiting_callers / 2) or longest < self.longest_wait_seconds / 2
        )


@dataclass(slots=True)
class QueueBacklog:
    """The judgement for one queue, carried from one look to the next."""

    calm_since: float | None = field(default=None)  # when the backlog went under half

    def judge(
        self,
        thresholds: Thresholds,
        waiting: int,
        longest: float,
        now: float,
        *,
        ours_in_force: bool,
        declared_in_force: bool,
    ) -> Verdict:
        """`ours_in_force`: an automatic incident covers the queue; `declared_in_force`: one a
        person declared covers it (or every call)."""
        if ours_in_force:
            if thresholds.waiting_callers > 0 and not thresholds.cleared(waiting, longest):
                self.calm_since = None
                return Verdict.KEEP
            # Calm (or the mode switched off): the clock runs from the first calm look.
            self.calm_since = now if self.calm_since is None else self.calm_since
            if now - self.calm_since >= thresholds.clear_seconds:
                self.calm_since = None
                return Verdict.END
            return Verdict.KEEP
        self.calm_since = None
        if thresholds.waiting_callers <= 0 or declared_in_force:
            return Verdict.KEEP
        return Verdict.START if thresholds.over(waiting, longest) else Verdict.KEEP
