"""Which AMI events the router reads, and the `manager.conf` lines that ask Asterisk for only
those (standard library only: the Asterisk image renders its manager.conf with it).

Class `call,agent` also carries events the router never reads (Newchannel, Newstate, music on
hold, bridges, device states): about half of what a queue call makes Asterisk send. Each is
formatted by Asterisk, written to the socket, parsed by panoramisk and thrown away here, for
every call. An `eventfilter` per wanted name (Asterisk's advanced filter: a hash lookup on the
name, no regular expression) stops them at the source. A PBX without the lines loses nothing:
the router drops what it does not read before copying it, and says once how much that was
(ami/connection.py).
"""

from __future__ import annotations

# What CallLearner.handle reads (ami/learner.py).
LEARNER_EVENTS = frozenset(
    {"DialBegin", "DialEnd", "AgentConnect", "BlindTransfer", "AttendedTransfer",
     "QueueCallerJoin", "HangupRequest", "SoftHangupRequest", "Hangup", "UserEvent"}
)  # fmt: skip
# What MemberBoard reads as it happens (ami/member_board.py).
MEMBER_EVENTS = frozenset(
    {"QueueMemberAdded", "QueueMemberStatus", "QueueMemberPause", "QueueMemberRemoved"}
)
# What CallerBoard reads (ami/caller_board.py). An abandoning caller leaves too: Asterisk sends
# QueueCallerAbandon, then QueueCallerLeave.
CALLER_EVENTS = frozenset({"QueueCallerJoin", "QueueCallerLeave"})
WANTED_EVENTS = LEARNER_EVENTS | MEMBER_EVENTS | CALLER_EVENTS
# The QueueStatus answer's events: read with the answer, never sent unasked.
ANSWER_EVENTS = frozenset({"QueueParams", "QueueMember", "QueueEntry", "QueueStatusComplete"})


def manager_conf_lines() -> list[str]:
    """The lines for the router's user in `manager.conf` (FreePBX: `manager_custom.conf`)."""
    return [f"eventfilter(action(include),name({name})) =" for name in sorted(WANTED_EVENTS)]
