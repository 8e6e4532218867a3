"""One definition of "free to ring" and of how a ring ended, for the ARI and FastAGI modes.

The facts are what Asterisk answers for QUEUE_MEMBER_LIST(queue), QUEUE_MEMBER(queue,paused,
interface) and DEVICE_STATE(endpoint), including the answers for an agent who is not a member
(paused "0", as for a free member: measured on 22.10) and for a queue that does not exist (an
empty member list).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sticky_router.routing_core.attempt import (
    AttemptOutcome,
    Availability,
    attempt_outcome,
    availability,
    is_member,
    wrapping_up,
)

MEMBERS = "PJSIP/agent1,PJSIP/agent2,PJSIP/agent3,PJSIP/agent4"


@pytest.mark.parametrize(
    ("members", "paused", "state", "expected"),
    [
        (MEMBERS, "0", "NOT_INUSE", Availability.FREE),
        (MEMBERS, "0", "INUSE", Availability.BUSY),
        (MEMBERS, "0", "BUSY", Availability.BUSY),
        (MEMBERS, "0", "RINGING", Availability.BUSY),
        (MEMBERS, "0", "RINGINUSE", Availability.BUSY),
        (MEMBERS, "0", "ONHOLD", Availability.BUSY),
        (MEMBERS, "1", "NOT_INUSE", Availability.PAUSED),
        (MEMBERS, "1", "INUSE", Availability.PAUSED),  # paused is never waited for
        (MEMBERS, "0", "UNAVAILABLE", Availability.UNREACHABLE),
        (MEMBERS, "0", "INVALID", Availability.UNREACHABLE),
        (MEMBERS, "0", "UNKNOWN", Availability.UNREACHABLE),
        (MEMBERS, "0", "", Availability.UNREACHABLE),
        # Logged out: Asterisk says paused "0" for a stranger, exactly as for a free member.
        ("PJSIP/agent1,PJSIP/agent3", "0", "NOT_INUSE", Availability.OFFLINE),
        ("PJSIP/agent1,PJSIP/agent3", "1", "INUSE", Availability.OFFLINE),
        ("", "0", "NOT_INUSE", Availability.OFFLINE),  # no such queue
        ("PJSIP/agent22", "0", "NOT_INUSE", Availability.OFFLINE),  # a prefix is not a member
    ],
)
def test_free_to_ring_decision_table(
    members: str, paused: str, state: str, expected: Availability
) -> None:
    assert (
        availability(members=members, interface="PJSIP/agent2", paused=paused, device_state=state)
        is expected
    )


@pytest.mark.parametrize(
    ("paused", "state", "expected"),
    [("0", "NOT_INUSE", Availability.WRAP_UP), ("0", "INUSE", Availability.BUSY),
     ("1", "NOT_INUSE", Availability.PAUSED)],
)  # fmt: skip
def test_an_agent_in_wrap_up_is_not_free(paused: str, state: str, expected: Availability) -> None:
    found = availability(
        members=MEMBERS, interface="PJSIP/agent2", paused=paused, device_state=state,
        wrapping_up=True,
    )  # fmt: skip
    assert found is expected


def test_wrap_up_counts_from_the_end_of_the_last_answered_call() -> None:
    now = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
    assert wrapping_up(now - timedelta(seconds=29), now, 30)
    assert not wrapping_up(now - timedelta(seconds=30), now, 30)
    assert not wrapping_up(now - timedelta(seconds=5), now, 0)  # not checked
    assert not wrapping_up(None, now, 30)  # never talked


def test_membership_ignores_case_and_spaces_like_asterisk() -> None:
    assert is_member("pjsip/Agent2 , PJSIP/agent3", "PJSIP/agent2")
    assert not is_member("PJSIP/agent2", "")


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("ANSWER", AttemptOutcome("sticky", None, rang=True)),
        ("NOANSWER", AttemptOutcome("queue", "no_answer", rang=True)),
        ("BUSY", AttemptOutcome("queue", "rejected", rang=True)),  # the phone said 486/603
        ("CONGESTION", AttemptOutcome("queue", "rejected", rang=True)),
        ("CHANUNAVAIL", AttemptOutcome("queue", "unreachable", rang=True)),
        ("CANCEL", AttemptOutcome("abandoned", "caller_abandoned", rang=True)),
        ("", AttemptOutcome("abandoned", "caller_abandoned", rang=False)),
        ("busy", AttemptOutcome("queue", "busy", rang=False)),  # the availability check
        ("paused", AttemptOutcome("queue", "paused", rang=False)),
        ("offline", AttemptOutcome("queue", "offline", rang=False)),
        ("unreachable", AttemptOutcome("queue", "unreachable", rang=False)),
        ("SOMETHING NEW", AttemptOutcome("queue", "no_answer", rang=True)),
    ],
)
def test_attempt_outcome(status: str, expected: AttemptOutcome) -> None:
    assert attempt_outcome(status) == expected


@pytest.mark.parametrize("status", ["CHANUNAVAIL", "NOANSWER", "CONGESTION", "BUSY"])
@pytest.mark.parametrize("cause", ["17", "21", " 21"])
def test_a_phone_turning_the_call_down_is_a_rejection_whatever_dial_says(
    status: str, cause: str
) -> None:
    assert attempt_outcome(status, cause) == AttemptOutcome("queue", "rejected", rang=True)


@pytest.mark.parametrize(("status", "cause"), [("NOANSWER", "0"), ("NOANSWER", ""), ("X", "abc")])
def test_other_causes_leave_the_dial_status_in_charge(status: str, cause: str) -> None:
    assert attempt_outcome(status, cause).reason == "no_answer"


def test_answered_and_abandoned_attempts_ignore_the_cause() -> None:
    assert attempt_outcome("ANSWER", "21").outcome == "sticky"
    assert attempt_outcome("CANCEL", "21").outcome == "abandoned"
