"""How the dialplan's reports are read: DIALSTATUS, times and who hung up."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sticky_router.agi.reports import agent_endpoint, hangup_side, leg_times, sticky_leg_id
from sticky_router.routing_core.channels import device_of
from sticky_router.routing_core.model import HangupSide

ENDED = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def test_leg_times_work_back_from_the_end() -> None:
    times = leg_times(ENDED, "22", "15", answered=True)
    assert times.rang == ENDED - timedelta(seconds=22)
    assert times.answered == ENDED - timedelta(seconds=15)
    assert leg_times(ENDED, "4", "", answered=False).answered is None


@pytest.mark.parametrize("garbage", ["", "abc", "-5", "nan"])
def test_leg_times_never_go_after_the_end_nor_break_on_garbage(garbage: str) -> None:
    times = leg_times(ENDED, garbage, garbage, answered=True)
    assert times.rang <= times.ended
    assert times.answered is not None
    assert times.rang <= times.answered <= times.ended


@pytest.mark.parametrize(
    ("source", "own", "expected"),
    [
        ("PJSIP/caller-00000001", HangupSide.CALLER, HangupSide.CALLER),
        ("PJSIP/agent2-00000002", HangupSide.CALLER, HangupSide.AGENT),
        ("PJSIP/agent2-00000002", HangupSide.AGENT, HangupSide.AGENT),
        ("PJSIP/caller-00000001", HangupSide.AGENT, HangupSide.CALLER),
        ("", HangupSide.CALLER, HangupSide.SYSTEM),
    ],
)
def test_hangup_side(source: str, own: HangupSide, expected: HangupSide) -> None:
    own_channel = "PJSIP/caller-00000001" if own is HangupSide.CALLER else "PJSIP/agent2-00000002"
    assert hangup_side(source, own_channel, own) is expected


def test_agent_endpoint_and_leg_ids() -> None:
    assert agent_endpoint("PJSIP/agent2-0000000a") == "PJSIP/agent2"
    # Queue() ran the answered hook on a Local member's channel (FreePBX): the member's
    # endpoint without its options, which the recorder finds the agent by.
    assert agent_endpoint("Local/102@from-queue-00000001;1") == "Local/102@from-queue"
    assert agent_endpoint("Local/102@from-queue-0000000x;1") == "Local/102@from-queue-0000000x;1"
    assert sticky_leg_id("1700.1", "agent2", "1700.2") == "1700.2"
    assert sticky_leg_id("1700.1", "agent2", " ") == "1700.1-agent2"


def test_a_channel_names_its_device() -> None:
    assert device_of("PJSIP/agent2soft-0000001f") == "PJSIP/agent2soft"
    assert device_of("Local/102@from-queue-00000003;2") == "Local/102@from-queue"
    assert device_of("PJSIP/agent2-0000001f;1") is None  # only a Local channel has halves
    assert device_of("Local/102@from-queue-00000003") is None  # ... and a Local channel has them
    assert device_of("agent2") is None
