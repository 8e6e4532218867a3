"""Callers waiting in each queue as Asterisk reports them over AMI: how many, and since when.
What the automatic outage mode reads (routing_core.backlog).

A snapshot (the QueueStatus action's QueueEntry events, each with the seconds the caller has
waited) replaces the board after every (re)connect; QueueCallerJoin and QueueCallerLeave keep it
current (an abandoning caller leaves too: Asterisk sends QueueCallerAbandon, then the leave).
Pure: the connection feeds it, with the monotonic time of each event.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

MAX_CALLERS = 20_000  # a bound against a flood of made-up callers


class CallerBoard:
    def __init__(self) -> None:
        self._joined: dict[tuple[str, str], float] = {}  # (queue, uniqueid) -> joined at
        self.known = False  # a snapshot has been taken since the connection came up

    def handle(self, event: Mapping[str, str], now: float) -> None:
        name = event.get("Event", "")
        key = (event.get("Queue", ""), event.get("Uniqueid", ""))
        if not all(key):
            return
        if name == "QueueCallerJoin":
            if key in self._joined or len(self._joined) < MAX_CALLERS:
                self._joined.setdefault(key, now)
        elif name == "QueueCallerLeave":
            self._joined.pop(key, None)

    def replace(self, snapshot: Iterable[Mapping[str, str]], now: float) -> None:
        """The QueueStatus answer: the callers waiting now and how long they have waited."""
        self._joined.clear()
        for event in snapshot:
            if event.get("Event") != "QueueEntry":
                continue
            key = (event.get("Queue", ""), event.get("Uniqueid", ""))
            waited = event.get("Wait", "0")
            if all(key) and len(self._joined) < MAX_CALLERS:
                self._joined[key] = now - (int(waited) if waited.isdigit() else 0)
        self.known = True

    def forget(self) -> None:
        self._joined.clear()
        self.known = False

    def backlog(self, now: float) -> dict[str, tuple[int, float]]:
        """Per queue with callers waiting: how many, and the longest wait in seconds."""
        found: dict[str, tuple[int, float]] = {}
        for (queue, _), joined in self._joined.items():
            waiting, longest = found.get(queue, (0, 0.0))
            found[queue] = (waiting + 1, max(longest, now - joined))
        return found
