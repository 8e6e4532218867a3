"""The live view's pure parts: queue memberships from AMI's own events, an agent's state over
their queues, a call's state from what is recorded, a caller's number as a supervisor sees it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from sticky_router.ami.member_board import MemberBoard
from sticky_router.routing_core.live import AgentState, MemberFacts, agent_state
from sticky_router.routing_core.store.live import CallInFlight
from sticky_router.web.admin.live_view import call_state, masked

# As Asterisk 22 sends them (QueueStatus answers with Location, member events with Interface).
SNAPSHOT = [
    {"Response": "Success", "EventList": "start", "Message": "Queue status will follow"},
    {"Event": "QueueParams", "Queue": "support", "Max": "0"},
    {"Event": "QueueParams", "Queue": "supervisors-empty", "Max": "0"},
    {"Event": "QueueMember", "Queue": "support", "Name": "PJSIP/agent1", "Location":
     "PJSIP/agent1", "StateInterface": "PJSIP/agent1", "Status": "1", "Paused": "0",
     "PausedReason": "", "InCall": "0"},
    {"Event": "QueueMember", "Queue": "support", "Name": "PJSIP/agent2", "Location":
     "PJSIP/agent2", "StateInterface": "PJSIP/agent2", "Status": "2", "Paused": "0",
     "PausedReason": "", "InCall": "1"},
    {"Event": "QueueStatusComplete", "EventList": "Complete", "ListItems": "3"},
]  # fmt: skip


def states(board: MemberBoard) -> dict[tuple[str, str], tuple[str, bool, str]]:
    return {(m.queue, m.interface): (m.device_state, m.paused, m.pause_reason)
            for m in board.members()}  # fmt: skip


def test_the_board_holds_what_asterisk_reports_and_follows_its_events() -> None:
    board = MemberBoard()
    assert not board.known
    board.handle({"Event": "QueueMemberStatus", "Queue": "support", "Interface": "PJSIP/old",
                  "Status": "1", "Paused": "0"})  # fmt: skip
    board.replace(SNAPSHOT)  # what Asterisk holds now, nothing older
    assert board.known
    assert states(board) == {
        ("support", "PJSIP/agent1"): ("NOT_INUSE", False, ""),
        ("support", "PJSIP/agent2"): ("INUSE", False, ""),
    }
    board.handle({"Event": "QueueMemberPause", "Queue": "support", "Interface": "PJSIP/agent1",
                  "Status": "1", "Paused": "1", "PausedReason": "break"})  # fmt: skip
    board.handle({"Event": "QueueMemberStatus", "Queue": "support", "Interface": "PJSIP/agent2",
                  "Status": "6", "Paused": "0"})  # fmt: skip
    board.handle({"Event": "QueueMemberAdded", "Queue": "second-line",
                  "Interface": "Local/103@from-queue/n", "Status": "1", "Paused": "0"})  # fmt: skip
    # Asterisk compares interfaces without regard to case; so does the board.
    board.handle({"Event": "QueueMemberRemoved", "Queue": "support", "Interface": "pjsip/AGENT2"})
    assert states(board) == {
        ("support", "PJSIP/agent1"): ("NOT_INUSE", True, "break"),
        ("second-line", "Local/103@from-queue/n"): ("NOT_INUSE", False, ""),
    }
    # Queues as Asterisk has them: the snapshot's (an empty one too) and any joined since.
    assert board.queues() == {"support", "supervisors-empty", "second-line"}
    board.forget()
    assert (board.known, board.members(), board.queues()) == (False, [], set())


def test_odd_member_events_are_ignored_and_the_board_is_bounded() -> None:
    board = MemberBoard()
    board.replace([])
    for odd in ({"Event": "QueueMemberStatus", "Queue": "support"},
                {"Event": "QueueMemberStatus", "Interface": "PJSIP/agent1"},
                {"Event": "Hangup", "Queue": "support", "Interface": "PJSIP/x"}):  # fmt: skip
        board.handle(odd)
    board.handle({"Event": "QueueMemberStatus", "Queue": "q", "Interface": "PJSIP/a",
                  "Status": "99", "Paused": "yes"})  # fmt: skip
    assert states(board) == {("q", "PJSIP/a"): ("UNKNOWN", False, "")}
    for n in range(6000):
        board.handle({"Event": "QueueMemberAdded", "Queue": "q", "Interface": f"PJSIP/x{n}",
                      "Status": "1"})  # fmt: skip
    assert len(board.members()) == 5000


def member(state: str, paused: bool = False, queue: str = "support") -> MemberFacts:
    return MemberFacts(queue, "PJSIP/agent2", state, paused)


@pytest.mark.parametrize(
    ("memberships", "wrapping_up", "expected"),
    [
        ([], False, AgentState.LOGGED_OUT),
        ([member("NOT_INUSE")], False, AgentState.FREE),
        ([member("NOT_INUSE")], True, AgentState.WRAP_UP),
        ([member("RINGING")], False, AgentState.RINGING),
        ([member("RINGINUSE")], False, AgentState.RINGING),
        ([member("INUSE")], False, AgentState.BUSY),
        ([member("ONHOLD")], False, AgentState.BUSY),
        ([member("INUSE", paused=True)], False, AgentState.BUSY),  # a call outranks a pause
        ([member("NOT_INUSE", paused=True)], False, AgentState.PAUSED),
        ([member("NOT_INUSE", paused=True)], True, AgentState.PAUSED),
        # Paused in one queue, taking calls in another: not paused.
        ([member("NOT_INUSE", True), member("NOT_INUSE", queue="second")], False, AgentState.FREE),
        ([member("UNAVAILABLE")], False, AgentState.UNREACHABLE),
        ([member("INVALID")], False, AgentState.UNREACHABLE),
        ([member("UNKNOWN")], False, AgentState.UNREACHABLE),
    ],
)
def test_an_agents_state_over_their_queues(
    memberships: list[MemberFacts], wrapping_up: bool, expected: AgentState
) -> None:
    assert agent_state(memberships, wrapping_up=wrapping_up) is expected


def call(route: str | None, leg: str | None = None, leg_answered: bool = False,
         answered: bool = False) -> CallInFlight:  # fmt: skip
    return CallInFlight(datetime.now(UTC), "+79123456701", "support", route, "last_agent",
                        None, "agent2", leg, leg_answered, answered)  # fmt: skip


@pytest.mark.parametrize(
    ("flight", "expected"),
    [
        (call(None), "deciding"),
        (call("sticky"), "waiting_agent"),  # checking or waiting for a busy agent
        (call("sticky", "agent2"), "ringing_agent"),
        (call("sticky", "agent2", leg_answered=True), "talking"),
        (call("queue"), "in_queue"),
        (call("queue", "agent3"), "ringing_queue"),
        (call("queue", "agent3", answered=True), "talking"),
        (call("blocked"), "blocked"),
    ],
)
def test_a_calls_state_from_what_is_recorded(flight: CallInFlight, expected: str) -> None:
    assert call_state(flight) == expected


def test_a_supervisor_sees_only_the_last_four_digits() -> None:
    assert masked("+79123456701") == "…6701"
    assert masked("101") == "…"
    assert masked(None) == "…"
