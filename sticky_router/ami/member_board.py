"""Queues and their memberships as Asterisk reports them over AMI, kept current for the live
view and for the admin pages (which queues exist).

A snapshot (the QueueStatus action's QueueParams and QueueMember events) replaces the board
after every (re)connect; QueueMemberAdded, QueueMemberStatus, QueueMemberPause and
QueueMemberRemoved keep it current between snapshots. Pure: the connection feeds it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from sticky_router.ami.event_names import MEMBER_EVENTS
from sticky_router.routing_core.live import MemberFacts

# Asterisk's enum ast_device_state, as AMI sends it in a member's Status.
DEVICE_STATES = ("UNKNOWN", "NOT_INUSE", "INUSE", "BUSY", "INVALID", "UNAVAILABLE", "RINGING",
                 "RINGINUSE", "ONHOLD")  # fmt: skip
# The live events (event_names.MEMBER_EVENTS, removal aside) and QueueStatus's QueueMember.
MEMBER_FACTS = (MEMBER_EVENTS - {"QueueMemberRemoved"}) | {"QueueMember"}
MAX_MEMBERS = 5000  # a bound against a flood of made-up members


def _facts(event: Mapping[str, str]) -> MemberFacts | None:
    queue = event.get("Queue", "")
    # QueueStatus says Location, the member events say Interface.
    interface = event.get("Interface") or event.get("Location") or ""
    if not queue or not interface:
        return None
    status = event.get("Status", "")
    state = DEVICE_STATES[int(status)] if status.isdigit() and int(status) < len(DEVICE_STATES) \
        else "UNKNOWN"  # fmt: skip
    return MemberFacts(
        queue=queue,
        interface=interface,
        device_state=state,
        paused=event.get("Paused") == "1",
        pause_reason=event.get("PausedReason", "")[:80],
    )


class MemberBoard:
    def __init__(self) -> None:
        self._members: dict[tuple[str, str], MemberFacts] = {}
        self._queues: set[str] = set()  # every queue, empty ones too (QueueParams)
        self.known = False  # a snapshot has been taken since the connection came up
        # Counts changes, so a reader that copies the board (the node's presence for the other
        # nodes, process/node_presence.py) copies it only when it changed.
        self.version = 0

    def handle(self, event: Mapping[str, str]) -> None:
        name = event.get("Event", "")
        if name == "QueueMemberRemoved":
            gone = (event.get("Queue", ""), (event.get("Interface") or "").casefold())
            if self._members.pop(gone, None) is not None:
                self.version += 1
        elif name in MEMBER_FACTS and (facts := _facts(event)) is not None:
            key = (facts.queue, facts.interface.casefold())
            if key in self._members or len(self._members) < MAX_MEMBERS:
                if self._members.get(key) != facts:
                    self.version += 1
                self._members[key] = facts

    def replace(self, snapshot: Iterable[Mapping[str, str]]) -> None:
        """The QueueStatus answer: what Asterisk holds now, nothing older."""
        self._members.clear()
        self._queues.clear()
        for event in snapshot:
            if event.get("Event") == "QueueMember":
                self.handle(event)
            elif event.get("Event") == "QueueParams" and event.get("Queue"):
                self._queues.add(event["Queue"])
        self.known = True
        self.version += 1

    def forget(self) -> None:
        """The connection is gone: what the board holds can no longer be trusted."""
        self._members.clear()
        self._queues.clear()
        self.known = False
        self.version += 1

    def members(self) -> list[MemberFacts]:
        return list(self._members.values())

    def queues(self) -> set[str]:
        """The queues Asterisk has: those of the last snapshot and any a member joined since."""
        return self._queues | {member.queue for member in self._members.values()}
