"""queue_log lines as call events, and the follower's place in a real file (the end-to-end
proof, a call taken while the router was down, is in tests/e2e/test_durability.py)."""

from __future__ import annotations

import asyncio
import json
import os
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from sticky_router.queue_log.follower import QueueLogFollower
from sticky_router.queue_log.records import QueueLogCalls, parse_line
from sticky_router.routing_core.caller_key import normalise_number
from sticky_router.routing_core.events import (
    CallEnded,
    CallEvent,
    CallStarted,
    EscalatedToQueue,
    LegAnswered,
    LegEnded,
    LegRang,
)
from sticky_router.routing_core.model import HangupSide

T = 1796198400
AT = datetime.fromtimestamp(T, UTC)
CALL, LEG = "1796198400.12", "1796198401.13"


def russian(raw: str) -> str | None:
    return normalise_number(raw, "RU")


def learn(*lines: str) -> list[CallEvent]:
    calls = QueueLogCalls(russian)
    events: list[CallEvent] = []
    for text in lines:
        line = parse_line(text)
        if line is not None:
            events += calls.events(line)
    return events


def at(seconds: int) -> datetime:
    return AT + timedelta(seconds=seconds)


def test_a_queue_call_answered_and_ended_by_the_caller() -> None:
    assert learn(
        f"{T}|{CALL}|support|NONE|ENTERQUEUE||79123456701|1",
        f"{T + 4}|{CALL}|support|PJSIP/agent1|CONNECT|4|{LEG}|3",
        f"{T + 60}|{CALL}|support|PJSIP/agent1|COMPLETECALLER|4|56|1",
    ) == [
        CallStarted(CALL, AT, "support", "+79123456701"),
        LegRang(CALL, LEG, "PJSIP/agent1", at(1)),
        LegAnswered(CALL, LEG, at(4)),
        LegEnded(CALL, LEG, at(60), "ANSWER", HangupSide.CALLER),
        CallEnded(CALL, at(60), HangupSide.CALLER),
    ]


def test_the_agent_hanging_up_is_the_agents_side() -> None:
    events = learn(
        f"{T}|{CALL}|support|NONE|ENTERQUEUE||79123456701|1",
        f"{T + 4}|{CALL}|support|PJSIP/agent1|CONNECT|4|{LEG}|3",
        f"{T + 60}|{CALL}|support|PJSIP/agent1|COMPLETEAGENT|4|56|1",
    )
    assert events[-1] == CallEnded(CALL, at(60), HangupSide.AGENT)


def test_a_caller_who_gave_up_in_the_queue_ends_unanswered() -> None:
    assert learn(
        f"{T}|{CALL}|support|NONE|ENTERQUEUE||79123456701|1",
        f"{T + 2}|{CALL}|support|PJSIP/agent2|RINGNOANSWER|2000",
        f"{T + 9}|{CALL}|support|NONE|ABANDON|1|1|9",
    ) == [
        CallStarted(CALL, AT, "support", "+79123456701"),
        CallEnded(CALL, at(9), HangupSide.CALLER),
    ]


def test_a_blind_transfer_to_second_line_is_an_escalation() -> None:
    leg2 = "1796198470.20"
    assert learn(
        f"{T}|{CALL}|support|NONE|ENTERQUEUE||79123456701|1",
        f"{T + 4}|{CALL}|support|PJSIP/agent1|CONNECT|4|{LEG}|3",
        f"{T + 60}|{CALL}|support|PJSIP/agent1|BLINDTRANSFER|second-line|sticky-agents|4|56|1",
        f"{T + 61}|{CALL}|second-line|NONE|ENTERQUEUE||79123456701|1",
        f"{T + 65}|{CALL}|second-line|PJSIP/agent3|CONNECT|4|{leg2}|4",
    )[3:] == [
        LegEnded(CALL, LEG, at(60), "ANSWER", None),
        CallEnded(CALL, at(60), None),
        EscalatedToQueue(CALL, "second-line"),
        LegRang(CALL, leg2, "PJSIP/agent3", at(61)),
        LegAnswered(CALL, leg2, at(65)),
    ]


@pytest.mark.parametrize(
    "text",
    [
        "",
        "garbage",
        f"{T}|NONE|NONE|NONE|QUEUESTART|",
        f"{T}|CLI|support|PJSIP/agent1|ADDMEMBER|",
        f"not-a-time|{CALL}|support|NONE|ENTERQUEUE||1|1",
        f"{T}|{CALL}|support|NONE|ENTERQUEUE||{'9' * 300}|1",
    ],
)
def test_lines_about_no_call_or_malformed_say_nothing(text: str) -> None:
    assert learn(text) == []


def test_a_hostile_caller_id_is_no_number_and_a_connect_without_its_leg_is_ignored() -> None:
    events = learn(
        f"{T}|{CALL}|support|NONE|ENTERQUEUE||'; DROP TABLE agents; --|1",
        f"{T + 4}|{CALL}|support|PJSIP/agent1|CONNECT|4||3",
    )
    assert events == [CallStarted(CALL, AT, "support", None)]


def test_lines_of_a_call_that_entered_before_reading_began_are_skipped() -> None:
    assert learn(f"{T + 60}|{CALL}|support|PJSIP/agent1|COMPLETECALLER|4|56|1") == []


# --- the follower, on a real file --------------------------------------------------------------


@dataclass
class MemoryJournal:
    events: list[CallEvent] = field(default_factory=list)
    marks: dict[str, str] = field(default_factory=dict)

    async def append(self, *events: CallEvent) -> bool:
        self.events.extend(events)
        return True

    async def mark(self, name: str) -> str | None:
        return self.marks.get(name)

    async def set_mark(self, name: str, value: str) -> None:
        self.marks[name] = value


def call_lines(call: str, leg: str, start: int) -> str:
    return (
        f"{start}|{call}|support|NONE|ENTERQUEUE||79123456701|1\n"
        f"{start + 4}|{call}|support|PJSIP/agent1|CONNECT|4|{leg}|3\n"
        f"{start + 60}|{call}|support|PJSIP/agent1|COMPLETECALLER|4|56|1\n"
    )


async def test_the_follower_starts_at_the_end_then_keeps_its_place_across_restarts(
    tmp_path: Path,
) -> None:
    path = tmp_path / "queue_log"
    old = int(time.time()) - 600
    path.write_text(call_lines("1.1", "1.2", old))  # before the router was installed
    journal = MemoryJournal()
    first = QueueLogFollower(path, journal, russian, settle_seconds=0)
    await first._restore()
    assert not await first.read_once()
    assert journal.events == []
    with path.open("a") as file:
        file.write(call_lines("2.1", "2.2", old + 100))
    await first.read_once()
    assert [e.call_id for e in journal.events] == ["2.1"] * 5
    with path.open("a") as file:  # while the router is down
        file.write(call_lines("3.1", "3.2", old + 200))
    again = QueueLogFollower(path, journal, russian, settle_seconds=0)
    await again._restore()
    await again.read_once()
    assert [e.call_id for e in journal.events] == ["2.1"] * 5 + ["3.1"] * 5


async def test_lines_younger_than_the_settle_time_wait_and_half_lines_are_not_read(
    tmp_path: Path,
) -> None:
    path = tmp_path / "queue_log"
    path.write_text("")
    journal = MemoryJournal()
    follower = QueueLogFollower(path, journal, russian, settle_seconds=30)
    await follower.read_once()  # starts at the (empty) end
    now = int(time.time())
    with path.open("a") as file:
        file.write(f"{now - 60}|4.1|support|NONE|ENTERQUEUE||79123456701|1\n")
        file.write(f"{now}|4.1|support|PJSIP/agent1|CONNECT|4|4.2|3\n")  # too fresh
        file.write(f"{now - 60}|5.1|support|NONE|ENTER")  # Asterisk still writing
    await follower.read_once()
    assert journal.events == [
        CallStarted("4.1", datetime.fromtimestamp(now - 60, UTC), "support", "+79123456701")
    ]


async def test_a_rotated_file_is_read_from_its_start(tmp_path: Path) -> None:
    path = tmp_path / "queue_log"
    path.write_text("")
    journal = MemoryJournal()
    follower = QueueLogFollower(path, journal, russian, settle_seconds=0)
    await follower.read_once()
    os.rename(path, tmp_path / "queue_log.1")
    path.write_text(call_lines("6.1", "6.2", int(time.time()) - 100))
    await follower.read_once()
    assert [e.call_id for e in journal.events] == ["6.1"] * 5


@dataclass
class SlowJournal(MemoryJournal):
    """Appends take a moment, as the real journal's fsync does: another pass can start
    meanwhile."""

    async def append(self, *events: CallEvent) -> bool:
        await asyncio.sleep(0.05)
        return await super().append(*events)


async def test_a_catch_up_during_the_followers_own_pass_reads_each_line_once(
    tmp_path: Path,
) -> None:
    """The router's quiesce (catch_up) while the follower's loop is mid-pass: both passes read
    from the same place and both moved it on, past the end of the file, which the next pass
    took for a truncated file and read again from its start: every call in it learned anew
    (after the tests' reset of the history, a caller had two calls where they made one)."""
    path = tmp_path / "queue_log"
    path.write_text("")
    journal = SlowJournal()
    follower = QueueLogFollower(path, journal, russian, settle_seconds=0)
    await follower.read_once()  # starts at the (empty) end
    with path.open("a") as file:
        file.write(call_lines("7.1", "7.2", int(time.time()) - 100))
    await asyncio.gather(follower.read_once(), follower.catch_up())
    await follower.read_once()
    assert [e.call_id for e in journal.events] == ["7.1"] * 5
    assert json.loads(journal.marks["queue_log"])["offset"] == path.stat().st_size


def test_a_sticky_call_the_dialplan_logged_ends_like_a_queue_call() -> None:
    """The sticky-ring dialplan's own lines: the router learns the end of a sticky call it was
    not there to see end."""
    assert learn(
        f"{T}|{CALL}|support|PJSIP/agent2|STICKYRING|{LEG}",
        f"{T + 60}|{CALL}|support|PJSIP/agent2|STICKYEND|55|PJSIP/agent2-0000001a",
    ) == [
        LegRang(CALL, LEG, "PJSIP/agent2", AT),
        LegEnded(CALL, LEG, at(60), "ANSWER", HangupSide.AGENT),
        CallEnded(CALL, at(60), HangupSide.AGENT),
    ]
    caller_hung_up = learn(
        f"{T}|{CALL}|support|PJSIP/agent2|STICKYRING|{LEG}",
        f"{T + 60}|{CALL}|support|PJSIP/agent2|STICKYEND|55|PJSIP/callers-00000001",
    )
    assert caller_hung_up[-1] == CallEnded(CALL, at(60), HangupSide.CALLER)
