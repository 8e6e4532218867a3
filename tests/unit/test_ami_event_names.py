"""The AMI events the router asks Asterisk for (ami/event_names.py) are the ones its readers
read, and a PBX that sends everything is told so once, losing nothing."""

from __future__ import annotations

import ast
import inspect
import textwrap
from datetime import UTC, datetime

import structlog

from sticky_router.ami.caller_board import CallerBoard
from sticky_router.ami.connection import UNWANTED_TO_REPORT, UnwantedEvents
from sticky_router.ami.event_names import (
    ANSWER_EVENTS,
    CALLER_EVENTS,
    LEARNER_EVENTS,
    MEMBER_EVENTS,
    WANTED_EVENTS,
    manager_conf_lines,
)
from sticky_router.ami.learner import CallLearner
from sticky_router.ami.member_board import MEMBER_FACTS, MemberBoard


def matched_names(function: object) -> set[str]:
    """The event names a reader compares `Event` with: its `case "..."` patterns and the
    string literals it compares a name with."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(function)))  # type: ignore[arg-type]
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.MatchValue) and isinstance(node.value, ast.Constant):
            names.add(str(node.value.value))
        elif isinstance(node, ast.Compare):
            for side in (node.left, *node.comparators):
                if isinstance(side, ast.Constant) and isinstance(side.value, str):
                    names.add(str(side.value))
    return names


def test_every_event_a_reader_matches_is_asked_for() -> None:
    """A name matched in a reader but left out of the filter would never arrive on a PBX that
    uses the filter: learning would silently stop."""
    assert matched_names(CallLearner.handle) == LEARNER_EVENTS
    assert matched_names(CallerBoard.handle) <= CALLER_EVENTS
    assert matched_names(MemberBoard.handle) <= MEMBER_EVENTS
    assert MEMBER_FACTS - {"QueueMember"} <= MEMBER_EVENTS  # QueueMember: the QueueStatus answer
    assert "QueueCallerJoin" in matched_names(CallerBoard.handle)


def test_the_manager_conf_lines_name_each_wanted_event_once() -> None:
    lines = manager_conf_lines()
    assert len(lines) == len(set(lines)) == len(WANTED_EVENTS)
    for name in WANTED_EVENTS:
        assert f"eventfilter(action(include),name({name})) =" in lines


def test_what_the_router_does_not_read_is_dropped_and_told_once() -> None:
    with structlog.testing.capture_logs() as captured:
        unwanted = UnwantedEvents()
        assert unwanted.wanted("DialBegin")
        assert not unwanted.wanted("QueueMember")  # the QueueStatus answer: not counted
        for _ in range(UNWANTED_TO_REPORT * 2):
            assert not unwanted.wanted("Newchannel")
        assert not unwanted.wanted("Newstate")
        told = [entry for entry in captured if entry["event"] == "ami_events_unfiltered"]
        assert len(told) == 1
        assert told[0]["commonest"] == ["Newchannel"]
        assert unwanted.count == UNWANTED_TO_REPORT * 2 + 1
        unwanted.reconnected()  # a new connection (perhaps to a PBX now filtered) is judged anew
        for _ in range(UNWANTED_TO_REPORT):
            unwanted.wanted("Newchannel")
        told = [entry for entry in captured if entry["event"] == "ami_events_unfiltered"]
    assert len(told) == 2


def test_made_up_event_names_cannot_grow_the_tally_without_bound() -> None:
    unwanted = UnwantedEvents()
    for number in range(1000):
        unwanted.wanted(f"Made{number}")
    assert len(unwanted.names) == 100
    assert unwanted.count == 1000


def test_answer_events_are_no_wanted_events() -> None:
    assert not ANSWER_EVENTS & WANTED_EVENTS


def test_the_learner_ignores_every_event_outside_its_list() -> None:
    """The other side of the filter: what is held back is what the learner ignores anyway."""
    learner = CallLearner()
    at = datetime(2026, 12, 4, tzinfo=UTC)
    held_back = ["Newchannel", "Newstate", "MusicOnHoldStart", "BridgeEnter", "AgentCalled"]
    held_back += ["AgentComplete", "DeviceStateChange", "NewConnectedLine", "QueueCallerAbandon"]
    for name in held_back:
        assert learner.handle({"Event": name, "Uniqueid": "1.1", "Linkedid": "1.1"}, at) == []
