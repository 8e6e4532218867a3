"""The AMI learner: event mapping (plain dicts, as Asterisk 22 sends them) and the connection
against a small AMI server over a real socket."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest
import structlog

from sticky_router.ami.connection import AmiLearner, AmiSettings
from sticky_router.ami.learner import CallLearner
from sticky_router.routing_core.channels import endpoint_of
from sticky_router.routing_core.events import (
    CallEnded,
    CallEvent,
    EscalatedToQueue,
    Handover,
    LegAnswered,
    LegEnded,
    LegRang,
)
from sticky_router.routing_core.model import HangupSide

AT = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
CALL = "1795383013.0"  # the caller's channel: Uniqueid == Linkedid == the interaction's call_id
CALLER = "PJSIP/callers-00000000"
A1, A2, A3, A4 = "1795383014.1", "1795383014.2", "1795383014.3", "1795383014.4"
NAMES = {A1: "PJSIP/agent1-00000001", A2: "PJSIP/agent2-00000002", A3: "PJSIP/agent3-00000003"}
NAMES[A4] = "PJSIP/agent4-00000004"
ROUTER_LEG = f"{CALL}-agent2"  # the router's own agent leg, created through ARI
NAMES[ROUTER_LEG] = "PJSIP/agent2-0000000b"
LOCAL1, LOCAL2 = "1795383019.5", "1795383019.6"  # Local/agent3@sticky-sandbox-agents-...;1 / ;2
CALLER_SIDE, AGENT_SIDE, SYSTEM_SIDE = HangupSide.CALLER, HangupSide.AGENT, HangupSide.SYSTEM


# --- events as Asterisk sends them (the fields the learner reads, and a few it must ignore) ---


def _name(uid: str) -> str:
    if uid == CALL:
        return CALLER
    if uid in (LOCAL1, LOCAL2):
        return f"Local/agent3@sticky-sandbox-agents-00000000;{1 if uid == LOCAL1 else 2}"
    return NAMES.get(uid, f"PJSIP/trunk-{uid[-1]}")


def dial_begin(leg: str, by: str = CALL) -> dict[str, str]:
    return {
        "Event": "DialBegin", "Privilege": "call,all", "Channel": _name(by), "Uniqueid": by,
        "Linkedid": CALL, "DestChannel": _name(leg), "DestUniqueid": leg, "DestLinkedid": CALL,
        "DialString": "agent",
    }  # fmt: skip


def dial_end(leg: str, status: str, by: str = CALL) -> dict[str, str]:
    return {**dial_begin(leg, by), "Event": "DialEnd", "DialStatus": status}


def agent_connect(leg: str) -> dict[str, str]:
    return {**dial_begin(leg), "Event": "AgentConnect", "Queue": "support", "HoldTime": "1"}


def request(uid: str, soft: bool = False, linked: str = CALL) -> dict[str, str]:
    kind = "SoftHangupRequest" if soft else "HangupRequest"
    return {"Event": kind, "Channel": _name(uid), "Uniqueid": uid, "Linkedid": linked}


def hangup(uid: str, linked: str = CALL) -> dict[str, str]:
    return {"Event": "Hangup", "Channel": _name(uid), "Uniqueid": uid, "Linkedid": linked}


def queue_join(uid: str, queue: str) -> dict[str, str]:
    return {
        "Event": "QueueCallerJoin", "Channel": _name(uid), "Uniqueid": uid, "Linkedid": CALL,
        "Queue": queue, "Position": "1", "Count": "1",
    }  # fmt: skip


def blind_transfer(transferer: str, result: str = "Success") -> dict[str, str]:
    return {
        "Event": "BlindTransfer", "Result": result, "TransfererChannel": _name(transferer),
        "TransfererUniqueid": transferer, "TransfererLinkedid": CALL,
        "TransfereeChannel": CALLER, "TransfereeUniqueid": CALL, "TransfereeLinkedid": CALL,
        "IsExternal": "Yes", "Context": "sticky-sandbox-agents", "Extension": "agent3",
    }  # fmt: skip


def attended_transfer(transferer: str, **target: str) -> dict[str, str]:
    """As Asterisk reports an AMI Atxfer (DestType Bridge, no target channel), unless the
    target's TransferTarget* fields are given (a phone's REFER with Replaces)."""
    return {
        "Event": "AttendedTransfer", "Result": "Success",
        "OrigTransfererChannel": _name(transferer), "OrigTransfererUniqueid": transferer,
        "OrigTransfererLinkedid": CALL,
        "SecondTransfererChannel": _name(transferer), "SecondTransfererUniqueid": transferer,
        "TransfereeChannel": CALLER, "TransfereeUniqueid": CALL, "TransfereeLinkedid": CALL,
        "IsExternal": "No", "DestType": "Bridge", **target,
    }  # fmt: skip


def rang(leg: str, agent: str, source: str | None = None, consult: bool = False) -> LegRang:
    return LegRang(CALL, leg, f"PJSIP/{agent}", AT, source, consultation=consult)


def consulted(leg: str, agent: str, by: str) -> LegRang:
    """The agent talking with the caller (`by`) consults a colleague: not yet a handover."""
    return rang(leg, agent, source=by, consult=True)


def answered(leg: str) -> LegAnswered:
    return LegAnswered(CALL, leg, AT)


def ended(leg: str, outcome: str, side: HangupSide | None) -> LegEnded:
    return LegEnded(CALL, leg, AT, outcome, side)


def call_ended(side: HangupSide | None) -> CallEnded:
    return CallEnded(CALL, AT, side)


# Recorded from the sandbox (tests/learning), trimmed to what matters.
QUEUE_ANSWERED_BY_AGENT2 = [
    dial_begin(A4), dial_begin(A3), dial_begin(A2), dial_begin(A1),
    request(A4), dial_end(A4, "NOANSWER"), hangup(A4),  # a busy phone: not "the agent hung up"
    dial_end(A2, "ANSWER"), dial_end(A3, "CANCEL"), dial_end(A1, "CANCEL"),
    dial_end(A3, "CANCEL"), dial_end(A1, "CANCEL"), hangup(A3), hangup(A1),
    agent_connect(A2),
]  # fmt: skip
RINGING_THEN_AGENT2 = [
    rang(A4, "agent4"), rang(A3, "agent3"), rang(A2, "agent2"), rang(A1, "agent1"),
    ended(A4, "NOANSWER", None), answered(A2), ended(A3, "CANCEL", None),
    ended(A1, "CANCEL", None),
]  # fmt: skip

STORIES = {
    "queue call, caller hangs up": (
        [*QUEUE_ANSWERED_BY_AGENT2, request(CALL), request(CALL, soft=True), hangup(A2),
         hangup(CALL)],
        [*RINGING_THEN_AGENT2, ended(A2, "ANSWER", CALLER_SIDE), call_ended(CALLER_SIDE)],
    ),
    "queue call, agent hangs up": (
        [*QUEUE_ANSWERED_BY_AGENT2, request(A2), hangup(A2), request(CALL, soft=True),
         hangup(CALL)],
        [*RINGING_THEN_AGENT2, ended(A2, "ANSWER", AGENT_SIDE), call_ended(AGENT_SIDE)],
    ),
    "caller hangs up on the queue's last agent after the others ended": (
        # the caller's Hangup arrives before the agent's: the leg ends with the call
        [*QUEUE_ANSWERED_BY_AGENT2, request(CALL), hangup(CALL), hangup(A2)],
        [*RINGING_THEN_AGENT2, ended(A2, "ANSWER", CALLER_SIDE), call_ended(CALLER_SIDE)],
    ),
    "caller gives up while the queue rings": (
        [dial_begin(A1), dial_begin(A2), request(CALL), dial_end(A1, "CANCEL"),
         dial_end(A2, "CANCEL"), hangup(A1), hangup(A2), request(CALL, soft=True),
         hangup(CALL)],
        [rang(A1, "agent1"), rang(A2, "agent2"), ended(A1, "CANCEL", CALLER_SIDE),
         ended(A2, "CANCEL", CALLER_SIDE), call_ended(CALLER_SIDE)],
    ),
    # The leg is the Local member's first half (the id the queue_log's CONNECT and the router's
    # Dial events know), named by the phone that rang first; each phone's channel is its alias.
    "a queue whose members are Local channels (FreePBX style), agent hangs up": (
        [dial_begin(LOCAL1), dial_begin(A2, by=LOCAL2), dial_end(A2, "ANSWER", by=LOCAL2),
         dial_end(LOCAL1, "ANSWER"), request(A2), hangup(A2), hangup(LOCAL2), hangup(LOCAL1),
         request(CALL, soft=True), hangup(CALL)],
        [rang(LOCAL1, "agent2"), answered(LOCAL1), ended(LOCAL1, "ANSWER", AGENT_SIDE),
         call_ended(AGENT_SIDE)],
    ),
    "a Local member with two phones: the softphone answers, the desk phone stops ringing": (
        [dial_begin(LOCAL1), dial_begin(A2, by=LOCAL2), dial_begin(A4, by=LOCAL2),
         dial_end(A2, "CANCEL", by=LOCAL2), dial_end(A4, "ANSWER", by=LOCAL2),
         dial_end(LOCAL1, "ANSWER"), hangup(A2), request(CALL), hangup(A4), hangup(LOCAL2),
         hangup(LOCAL1), hangup(CALL)],
        [rang(LOCAL1, "agent2"), answered(LOCAL1), ended(LOCAL1, "ANSWER", CALLER_SIDE),
         call_ended(CALLER_SIDE)],
    ),
    # Behind a /n Local member the REFER moves the member's second half: what it dials after
    # the answer is the transfer's target, not one more phone of the agent.
    "a Local member's phone blind-transfers to agent3": (
        [dial_begin(LOCAL1), dial_begin(A2, by=LOCAL2), dial_end(A2, "ANSWER", by=LOCAL2),
         dial_end(LOCAL1, "ANSWER"), blind_transfer(A2), request(A2), hangup(A2),
         dial_begin(A3, by=LOCAL2), dial_end(A3, "ANSWER", by=LOCAL2), request(CALL),
         hangup(A3), hangup(LOCAL2), hangup(LOCAL1), hangup(CALL)],
        [rang(LOCAL1, "agent2"), answered(LOCAL1), ended(LOCAL1, "ANSWER", AGENT_SIDE),
         rang(A3, "agent3", source=LOCAL1), answered(A3), ended(A3, "ANSWER", CALLER_SIDE),
         call_ended(CALLER_SIDE)],
    ),
    "a Local member nobody answers: one leg, ended as the member's own dial ended": (
        [dial_begin(LOCAL1), dial_begin(A2, by=LOCAL2), dial_begin(A4, by=LOCAL2),
         dial_end(A2, "CANCEL", by=LOCAL2), dial_end(A4, "CANCEL", by=LOCAL2),
         dial_end(LOCAL1, "NOANSWER"), hangup(A2), hangup(A4), hangup(LOCAL1)],
        [rang(LOCAL1, "agent2"), ended(LOCAL1, "NOANSWER", None)],
    ),
    "the queue gives up and the dialplan hangs up the caller": (
        [request(CALL, soft=True), hangup(CALL)],
        [call_ended(SYSTEM_SIDE)],
    ),
    "a call the learner saw nothing of still ends": (
        [hangup(CALL)],
        [call_ended(None)],
    ),
    "blind transfer by SIP REFER from agent1 to agent3": (
        [dial_begin(A1), dial_end(A1, "ANSWER"), agent_connect(A1), blind_transfer(A1),
         hangup(A1), request(A1), dial_begin(A3), dial_end(A3, "ANSWER"), request(CALL),
         request(CALL, soft=True), hangup(A3), hangup(CALL)],
        [rang(A1, "agent1"), answered(A1), ended(A1, "ANSWER", AGENT_SIDE),
         rang(A3, "agent3", source=A1), answered(A3), ended(A3, "ANSWER", CALLER_SIDE),
         call_ended(CALLER_SIDE)],
    ),
    "blind transfer, caller hangs up while the specialist rings": (
        [dial_begin(A1), dial_end(A1, "ANSWER"), blind_transfer(A1), hangup(A1),
         dial_begin(A3), request(CALL), dial_end(A3, "CANCEL"), hangup(A3), hangup(CALL)],
        [rang(A1, "agent1"), answered(A1), ended(A1, "ANSWER", AGENT_SIDE),
         rang(A3, "agent3", source=A1), ended(A3, "CANCEL", CALLER_SIDE),
         call_ended(CALLER_SIDE)],
    ),
    "blind transfer to another queue: every member it rings is the transfer's": (
        [dial_begin(A1), dial_end(A1, "ANSWER"), blind_transfer(A1), hangup(A1),
         dial_begin(A3), dial_begin(A4), dial_end(A4, "ANSWER"), dial_end(A3, "CANCEL")],
        [rang(A1, "agent1"), answered(A1), ended(A1, "ANSWER", AGENT_SIDE),
         rang(A3, "agent3", source=A1), rang(A4, "agent4", source=A1), answered(A4),
         ended(A3, "CANCEL", None)],
    ),
    "blind transfer to the second-line queue, the caller gives up waiting there": (
        [dial_begin(A1), dial_end(A1, "ANSWER"), blind_transfer(A1), hangup(A1),
         queue_join(CALL, "second-line"), request(CALL), hangup(CALL)],
        [rang(A1, "agent1"), answered(A1), ended(A1, "ANSWER", AGENT_SIDE),
         EscalatedToQueue(CALL, "second-line"), call_ended(CALLER_SIDE)],
    ),
    "the router's own fallback to a queue is no escalation": (
        [queue_join(CALL, "support"), dial_begin(A1), dial_end(A1, "ANSWER"), request(CALL),
         hangup(CALL)],
        [rang(A1, "agent1"), answered(A1), ended(A1, "ANSWER", CALLER_SIDE),
         call_ended(CALLER_SIDE)],
    ),
    "a failed blind transfer changes nothing": (
        [dial_begin(A1), dial_end(A1, "ANSWER"), blind_transfer(A1, result="Fail"),
         request(A1), hangup(A1), hangup(CALL)],
        [rang(A1, "agent1"), answered(A1), ended(A1, "ANSWER", AGENT_SIDE),
         call_ended(AGENT_SIDE)],
    ),
    "attended transfer (AMI Atxfer) through a Local channel, completed by hanging up": (
        [dial_begin(A1), dial_end(A1, "ANSWER"), agent_connect(A1),
         dial_begin(A3, by=LOCAL2), dial_end(A3, "ANSWER", by=LOCAL2),
         request(A1, soft=True), attended_transfer(A1), hangup(A1),
         request(CALL), request(LOCAL2), hangup(LOCAL1), hangup(LOCAL2), hangup(A3),
         hangup(CALL)],
        [rang(A1, "agent1"), answered(A1), consulted(A3, "agent3", by=A1), answered(A3),
         Handover(CALL, A3), ended(A1, "ANSWER", AGENT_SIDE), ended(A3, "ANSWER", CALLER_SIDE),
         call_ended(CALLER_SIDE)],
    ),
    "attended transfer, the specialist hangs up on the caller": (
        [dial_begin(A1), dial_end(A1, "ANSWER"), dial_begin(A3, by=LOCAL2),
         dial_end(A3, "ANSWER", by=LOCAL2), request(A1), attended_transfer(A1), hangup(A1),
         request(A3), hangup(A3), request(CALL, soft=True), hangup(CALL)],
        [rang(A1, "agent1"), answered(A1), consulted(A3, "agent3", by=A1), answered(A3),
         Handover(CALL, A3), ended(A1, "ANSWER", AGENT_SIDE), ended(A3, "ANSWER", AGENT_SIDE),
         call_ended(AGENT_SIDE)],
    ),
    "a consultation the specialist declines leaves agent1 with the caller": (
        [dial_begin(A1), dial_end(A1, "ANSWER"), dial_begin(A3, by=LOCAL2),
         dial_end(A3, "ANSWER", by=LOCAL2), request(A3), hangup(A3), request(CALL),
         hangup(A1), hangup(CALL)],
        [rang(A1, "agent1"), answered(A1), consulted(A3, "agent3", by=A1), answered(A3),
         ended(A3, "ANSWER", AGENT_SIDE), ended(A1, "ANSWER", CALLER_SIDE),
         call_ended(CALLER_SIDE)],
    ),
    "a caller who hangs up during the consultation was waiting for the specialist": (
        [dial_begin(A1), dial_end(A1, "ANSWER"), dial_begin(A3, by=LOCAL2),
         dial_end(A3, "ANSWER", by=LOCAL2), request(CALL), hangup(CALL)],
        [rang(A1, "agent1"), answered(A1), consulted(A3, "agent3", by=A1), answered(A3),
         Handover(CALL, A3), ended(A1, "ANSWER", CALLER_SIDE), ended(A3, "ANSWER", CALLER_SIDE),
         call_ended(CALLER_SIDE)],
    ),
    "attended transfer by a phone (REFER with Replaces) to a call of its own": (
        # agent1's phone called agent3 itself: that call's Linkedid is its own channel
        [dial_begin(A1), dial_end(A1, "ANSWER"),
         {**dial_begin(A3, by="1795383020.7"), "Linkedid": "1795383020.7",
          "DestLinkedid": "1795383020.7"},
         attended_transfer(A1, TransferTargetChannel=NAMES[A3], TransferTargetUniqueid=A3,
                           TransferTargetChannelStateDesc="Up"),
         request(A1), hangup(A1), request(CALL), hangup(A3, linked="1795383020.7"),
         hangup(CALL)],
        [rang(A1, "agent1"), answered(A1),
         LegRang("1795383020.7", A3, "PJSIP/agent3", AT, None),
         rang(A3, "agent3", source=A1), answered(A3), ended(A1, "ANSWER", AGENT_SIDE),
         ended(A3, "ANSWER", CALLER_SIDE), call_ended(CALLER_SIDE)],
    ),
    "the router's own sticky leg, dialled through ARI": (
        [dial_begin(ROUTER_LEG), dial_end(ROUTER_LEG, "ANSWER"), request(CALL), hangup(CALL),
         hangup(ROUTER_LEG)],
        [rang(ROUTER_LEG, "agent2"), answered(ROUTER_LEG), ended(ROUTER_LEG, "ANSWER", CALLER_SIDE),
         call_ended(CALLER_SIDE)],
    ),
    "Local channels and unknown events are not legs": (
        [dial_begin(LOCAL1, by=A1), {"Event": "Newexten", "Uniqueid": CALL},
         {"Event": "DialBegin"}, request(LOCAL2), hangup(LOCAL2)],
        [],
    ),
}  # fmt: skip


def learn(events: list[dict[str, str]], learner: CallLearner | None = None) -> list[CallEvent]:
    learner = CallLearner() if learner is None else learner
    return [write for event in events for write in learner.handle(event, AT)]


@pytest.mark.parametrize("story", STORIES)
def test_story_becomes_the_expected_writes(story: str) -> None:
    events, expected = STORIES[story]
    assert learn(events) == expected


@pytest.mark.parametrize(
    ("channel", "endpoint"),
    [
        ("PJSIP/agent2-0000000a", "PJSIP/agent2"),
        ("PJSIP/agent-two-0000000a", "PJSIP/agent-two"),
        ("SIP/100-00ab", "SIP/100"),
        ("Local/agent3@sticky-sandbox-agents-00000000;1", None),
        ("PJSIP/agent2", None),
        ("", None),
    ],
)
def test_endpoint_comes_from_the_channel_name(channel: str, endpoint: str | None) -> None:
    assert endpoint_of(channel) == endpoint


# --- a call from another node (docs/multi-node.md): node B's caller, rung through the trunk ---

B_CALL, B_LEG = "node-b-1795383013.0", "node-b-1795383013.1"  # node B's call and agent leg
TRUNK_A = "node-a-1795383020.7"  # the trunk's channel on node A: the "caller" there
AGENT2_A, AGENT3_A = "node-a-1795383020.8", "node-a-1795383020.9"
NAMES.update({TRUNK_A: "PJSIP/node-b-00000007", AGENT2_A: "PJSIP/agent2-00000008",
              AGENT3_A: "PJSIP/agent3-00000009"})  # fmt: skip


def on_node_a(event: dict[str, str]) -> dict[str, str]:
    """The event as node A sends it: the trunk's channel where the caller's would be."""
    return {key: TRUNK_A if value == CALL else value for key, value in event.items()}


def far_call(call: str = B_CALL, leg: str = B_LEG) -> dict[str, str]:
    """What sticky-from-nodes tells AMI from the INVITE's headers."""
    return {
        "Event": "UserEvent", "Privilege": "user,all", "Channel": NAMES[TRUNK_A],
        "Uniqueid": TRUNK_A, "Linkedid": TRUNK_A, "UserEvent": "StickyFarCall",
        "Call": call, "Leg": leg,
    }  # fmt: skip


AGENT2_ON_A_HANDS_IVAN_TO_AGENT3 = [
    on_node_a(e)
    for e in (
        dial_begin(AGENT2_A, by=CALL), dial_end(AGENT2_A, "ANSWER"), blind_transfer(AGENT2_A),
        request(AGENT2_A), hangup(AGENT2_A), dial_begin(AGENT3_A), dial_end(AGENT3_A, "ANSWER"),
        request(CALL), hangup(AGENT3_A), hangup(CALL),
    )
]  # fmt: skip


def test_a_call_from_another_node_is_learned_under_that_node_s_ids() -> None:
    """Node A's channels, named by node B's call and leg: agent2's leg is B's, and agent3 took
    the caller from it."""
    assert learn([far_call(), *AGENT2_ON_A_HANDS_IVAN_TO_AGENT3]) == [
        LegRang(B_CALL, B_LEG, "PJSIP/agent2", AT, None),
        LegAnswered(B_CALL, B_LEG, AT),
        LegEnded(B_CALL, B_LEG, AT, "ANSWER", AGENT_SIDE),
        LegRang(B_CALL, AGENT3_A, "PJSIP/agent3", AT, B_LEG),
        LegAnswered(B_CALL, AGENT3_A, AT),
        LegEnded(B_CALL, AGENT3_A, AT, "ANSWER", CALLER_SIDE),
        CallEnded(B_CALL, AT, CALLER_SIDE),
    ]


@pytest.mark.parametrize(
    ("call", "leg"),
    [
        ("", B_LEG),
        (B_CALL, ""),
        ("node-b-1.0,Leg: x", B_LEG),
        (B_CALL, "node-b-1.1 " + "x" * 80),
        ("x" * 65, B_LEG),
        ("-rf", B_LEG),
        (B_CALL, "${SHELL(id)}"),
    ],
)
def test_ids_that_no_channel_could_have_are_not_believed(call: str, leg: str) -> None:
    """Whatever reached the headers, only a channel's id renames anything: otherwise the call is
    learned under node A's own ids, as if nothing had been told."""
    told = learn([far_call(call, leg), *AGENT2_ON_A_HANDS_IVAN_TO_AGENT3])
    assert told == learn(AGENT2_ON_A_HANDS_IVAN_TO_AGENT3)
    assert {event.call_id for event in told} == {TRUNK_A}


def test_a_far_call_s_names_end_with_its_channels() -> None:
    """After the trunk's channel hung up, node A's ids are its own again (Asterisk never
    reuses one, but a learner followed for weeks must not grow)."""
    learner = CallLearner()
    learn([far_call(), *AGENT2_ON_A_HANDS_IVAN_TO_AGENT3], learner)
    assert learn([dial_begin(AGENT2_A, by=CALL)], learner) == [rang(AGENT2_A, "agent2")]


def test_other_user_events_are_not_read() -> None:
    ring_missed = {**far_call(), "UserEvent": "StickyRingMissed", "status": "NOANSWER"}
    learner = CallLearner()
    assert learn([ring_missed, *AGENT2_ON_A_HANDS_IVAN_TO_AGENT3], learner) == learn(
        AGENT2_ON_A_HANDS_IVAN_TO_AGENT3
    )


def test_a_call_is_forgotten_when_the_caller_hangs_up() -> None:
    learner = CallLearner()
    learn([dial_begin(A1), dial_end(A1, "ANSWER")], learner)
    assert len(learner) == 1
    learn([request(CALL), hangup(CALL)], learner)
    assert len(learner) == 0
    # The agent's own Hangup after the caller's finds nothing left to write.
    assert learn([hangup(A1)], learner) == []


def test_calls_followed_at_once_are_capped() -> None:
    learner = CallLearner(max_calls=3)
    for n in range(5):
        learner.handle({**dial_begin(f"9.{n}"), "DestLinkedid": f"1.{n}"}, AT)
    assert len(learner) == 3
    # The oldest calls went first: their legs are no longer known.
    assert learner.handle({**dial_end("9.0", "ANSWER"), "DestLinkedid": "1.0"}, AT) == []
    assert learner.handle({**dial_end("9.4", "ANSWER"), "DestLinkedid": "1.4"}, AT) == [
        LegAnswered("1.4", "9.4", AT)
    ]


def test_agent_connect_alone_records_the_leg_when_ami_came_up_mid_ring() -> None:
    assert learn([agent_connect(A2)]) == [rang(A2, "agent2"), answered(A2)]


# --- where the events go ---------------------------------------------------------------------


@dataclass
class ListSink:
    """Keeps what the learner reports, in order (the journal's own tests are elsewhere)."""

    events: list[CallEvent] = field(default_factory=list)

    async def append(self, *events: CallEvent) -> bool:
        self.events.extend(events)
        return True

    def kinds(self) -> list[str]:
        return [type(event).__name__ for event in self.events]


# --- the connection, against a small AMI server on a real socket -----------------------------


@dataclass
class FakeAsterisk:
    """Speaks just enough AMI: the banner, Login (one user), Ping; pushes events on demand."""

    secret: str = "s3cret"
    answer_pings: bool = True
    logins: int = 0
    members: list[dict[str, str]] = field(default_factory=list)  # QueueStatus's QueueMembers
    writers: list[asyncio.StreamWriter] = field(default_factory=list)
    server: asyncio.Server | None = None

    @property
    def port(self) -> int:
        assert self.server is not None
        return int(self.server.sockets[0].getsockname()[1])

    async def start(self, port: int = 0) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", port)

    async def stop(self) -> None:
        assert self.server is not None
        self.server.close()
        self.drop()
        await self.server.wait_closed()

    def drop(self) -> None:
        for writer in self.writers:
            writer.close()
        self.writers.clear()

    def push(self, event: dict[str, str]) -> None:
        block = "".join(f"{key}: {value}\r\n" for key, value in event.items()) + "\r\n"
        for writer in self.writers:
            writer.write(block.encode())

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"Asterisk Call Manager/9.0.0\r\n")
        with contextlib.suppress(OSError, asyncio.IncompleteReadError):
            while True:
                block = (await reader.readuntil(b"\r\n\r\n")).decode()
                action = dict(line.split(": ", 1) for line in block.split("\r\n") if ": " in line)
                reply = {"Response": "Success", "ActionID": action.get("ActionID", "")}
                if action.get("Action") == "Login":
                    if action.get("Secret") != self.secret:
                        reply.update(Response="Error", Message="Authentication failed")
                    else:
                        self.logins += 1
                        self.writers.append(writer)
                elif action.get("Action") == "Ping" and not self.answer_pings:
                    continue
                elif action.get("Action") == "QueueStatus":
                    reply.update(EventList="start", Message="Queue status will follow")
                    events = [*self.members, {"Event": "QueueStatusComplete",
                                              "EventList": "Complete"}]  # fmt: skip
                    for event in [reply, *events]:
                        event = {**event, "ActionID": reply["ActionID"]}
                        writer.write(("".join(f"{k}: {v}\r\n" for k, v in event.items())
                                      + "\r\n").encode())  # fmt: skip
                    continue
                writer.write(("".join(f"{k}: {v}\r\n" for k, v in reply.items()) + "\r\n").encode())


@pytest.fixture
async def asterisk() -> AsyncIterator[FakeAsterisk]:
    server = FakeAsterisk()
    await server.start()
    yield server
    await server.stop()


def learner_for(
    asterisk: FakeAsterisk, sink: ListSink, secret: str = "s3cret", heartbeat: float = 5
) -> AmiLearner:
    settings = AmiSettings("127.0.0.1", asterisk.port, "sticky-router", secret)
    return AmiLearner(settings, sink, backoff=(0.02, 0.08), heartbeat=heartbeat, action_timeout=0.3)


async def until(condition: Callable[[], bool], seconds: float = 3) -> None:
    for _ in range(round(seconds / 0.01)):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"still not true after {seconds} s")


async def test_events_from_ami_are_recorded(asterisk: FakeAsterisk) -> None:
    sink = ListSink()
    learner = learner_for(asterisk, sink)
    learner.start()
    try:
        await learner.wait_connected(3)
        for event in (dial_begin(A2), dial_end(A2, "ANSWER"), request(CALL), hangup(CALL)):
            asterisk.push(event)
        await until(lambda: len(sink.events) == 4)
    finally:
        await learner.stop()
    assert sink.kinds() == ["LegRang", "LegAnswered", "LegEnded", "CallEnded"]


async def test_a_lost_connection_is_logged_once_and_reconnected(asterisk: FakeAsterisk) -> None:
    sink = ListSink()
    learner = learner_for(asterisk, sink)
    with structlog.testing.capture_logs() as logs:
        learner.start()
        try:
            await learner.wait_connected(3)
            port = asterisk.port
            await asterisk.stop()  # Asterisk restarts: refused for a while
            await until(lambda: not learner.connected.is_set())
            # Refused for a while: at least three quiet retries (waited for, not slept for,
            # so a loaded machine only makes it slower).
            await until(lambda: [e["event"] for e in logs].count("ami_retry_failed") >= 3)
            await asterisk.start(port)
            await until(lambda: asterisk.logins == 2)
            await learner.wait_connected(3)
            asterisk.push(hangup(CALL))
            await until(lambda: sink.kinds() == ["CallEnded"])
        finally:
            await learner.stop()
    warnings = [entry for entry in logs if entry["log_level"] == "warning"]
    assert [entry["event"] for entry in warnings] == ["ami_connection_lost"]
    retries = [entry for entry in logs if entry["event"] == "ami_retry_failed"]
    assert len(retries) >= 3  # retried quietly, with delays capped at 0.08 s
    assert [entry["event"] for entry in logs].count("ami_connected") == 2


async def test_a_refused_login_is_retried_and_the_secret_never_logged(
    asterisk: FakeAsterisk,
) -> None:
    learner = learner_for(asterisk, ListSink(), secret="wrong-secret")
    with structlog.testing.capture_logs() as logs:
        learner.start()
        try:
            await until(lambda: len(logs) > 2)  # refused, and tried again quietly
        finally:
            await learner.stop()
    assert not learner.connected.is_set()
    assert logs[0]["event"] == "ami_unavailable"
    assert "Authentication failed" in logs[0]["reason"]
    assert all(entry["log_level"] == "debug" for entry in logs[1:])
    assert len(logs) > 2
    assert "wrong-secret" not in repr(logs) + repr(learner.settings)


async def test_an_unanswered_ping_means_reconnect(asterisk: FakeAsterisk) -> None:
    """A half-open connection (Asterisk frozen, a cable pulled) shows up only as silence."""
    asterisk.answer_pings = False
    learner = learner_for(asterisk, ListSink(), heartbeat=0.05)
    with structlog.testing.capture_logs() as logs:
        learner.start()
        try:
            await until(lambda: asterisk.logins >= 2)
        finally:
            await learner.stop()
    assert "ami_connection_lost" in [entry["event"] for entry in logs]


async def test_queue_memberships_are_taken_at_connect_and_followed(asterisk: FakeAsterisk) -> None:
    asterisk.members = [
        {"Event": "QueueMember", "Queue": "support", "Name": "PJSIP/agent2",
         "Location": "PJSIP/agent2", "Status": "1", "Paused": "0"},
    ]  # fmt: skip
    learner = learner_for(asterisk, ListSink())
    learner.start()
    try:
        await learner.wait_connected(3)
        await until(lambda: learner.board.known)
        assert [(m.interface, m.device_state) for m in learner.board.members()] == [
            ("PJSIP/agent2", "NOT_INUSE")
        ]
        asterisk.push({"Event": "QueueMemberPause", "Queue": "support",
                       "Interface": "PJSIP/agent2", "Status": "1", "Paused": "1",
                       "PausedReason": "lunch"})  # fmt: skip
        await until(lambda: learner.board.members()[0].paused)
        assert learner.board.members()[0].pause_reason == "lunch"
        await asterisk.stop()  # Asterisk gone: the board no longer claims to know
        await until(lambda: not learner.board.known)
    finally:
        await learner.stop()
