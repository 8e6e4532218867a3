"""Learn from AMI who answered a queue call and who took a transfer.

The Stasis application sees only the channels it created. Once a call is in the queue (context
sticky-queue), the agent who answers it and any colleague they hand the caller to exist only in
Asterisk. AMI reports every channel, and ties them to the call by Linkedid: each channel that
Queue() or Dial() creates for a call carries the caller channel's Uniqueid, which is the
interaction's call_id. Everything is written through the idempotent CallRecorder (the first
report wins), so a sticky call heard from both ARI and AMI is recorded once.

  CallLearner  one AMI event (a plain dict) -> the events it implies; state only, no I/O
  (ami/connection.py journals them and holds the AMI connection.)

Asterisk 22 events and fields used:
  DialBegin, DialEnd   DestChannel, DestUniqueid, DestLinkedid, Uniqueid and Channel (who
                       dials: a Local member's second half rings its phones), DialStatus
  AgentConnect         Uniqueid (the queued caller), DestChannel, DestUniqueid, DestLinkedid
  BlindTransfer        Result, TransfererUniqueid
  AttendedTransfer     Result, OrigTransfererUniqueid, SecondTransfererUniqueid, and when the
                       target is a phone's own call (SIP REFER with Replaces) TransferTargetChannel,
                       TransferTargetUniqueid, TransferTargetChannelStateDesc
  QueueCallerJoin      Queue, Uniqueid, Linkedid (a transferred caller joins a second-line queue)
  HangupRequest (a phone hung up), SoftHangupRequest (Asterisk ended it), Hangup: Uniqueid, Linkedid
  UserEvent            StickyFarCall (dialplan sticky-from-nodes): Uniqueid, Call, Leg
The AMI user needs `read = call,agent,user` (`user`: the UserEvent, for calls from other nodes,
whose events the learner reads under the other node's ids: ami/far_calls.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

import structlog

from sticky_router.ami.far_calls import FAR_CALL_EVENT, FarCallNames
from sticky_router.routing_core.channels import endpoint_of, is_local
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

log = structlog.get_logger("sticky_router.ami")


Event = Mapping[str, str]
MAX_CALLS = 5000  # calls followed at once; the oldest is forgotten beyond (a Hangup we missed)


# --- the mapping ------------------------------------------------------------------------------


@dataclass
class _Leg:
    agent: str
    transferred_from: str | None
    consult: bool = False  # dialled by the agent talking with the caller (an attended transfer)
    answered: bool = False
    ended: bool = False
    hung_up: bool = False  # the agent's phone hung up (HangupRequest)
    handed_over: bool = False  # the agent transferred the caller away
    phone: str | None = None  # behind a Local member: the uniqueid of the phone that answered


@dataclass
class _Call:
    legs: dict[str, _Leg] = field(default_factory=dict)
    # A FreePBX-style member: the caller's channel dials a Local channel (Local/102@from-queue),
    # whose other half rings the agent's phones. The Local channel's first half is the leg (the
    # id the queue_log and the router's Dial events know); each phone's channel is an alias.
    hops: dict[str, str] = field(default_factory=dict)  # Local name without ;1 -> its uniqueid
    aliases: dict[str, str] = field(default_factory=dict)  # a phone's uniqueid -> the hop's
    partner: str | None = None  # the agent leg talking with the caller now
    side: HangupSide | None = None  # who first asked to end the current conversation
    blind_from: str | None = None  # legs rung until one answers are this leg's blind transfer
    caller_hung_up: bool = False


class CallLearner:
    """Follows each call's agent legs and turns AMI events into call events.

    Who hung up: a HangupRequest is a phone hanging up, a SoftHangupRequest is Asterisk ending a
    channel (dialplan, AMI, a transfer). The first request of the caller or of the agent talking
    with the caller (the partner) decides; a ringing colleague being cancelled, or an agent
    leaving by transferring, is nobody hanging up on the caller. A new partner (an answer, a
    completed transfer) starts a new conversation, so what was noted before is forgotten.
    """

    def __init__(self, max_calls: int = MAX_CALLS) -> None:
        self._calls: dict[str, _Call] = {}  # by call id, oldest first
        self._leg_calls: dict[str, str] = {}  # agent leg uniqueid -> call id
        self._max_calls = max_calls
        self._far = FarCallNames(limit=2 * max_calls)  # calls from other nodes

    def __len__(self) -> int:
        return len(self._calls)

    def handle(self, event: Event, at: datetime) -> list[CallEvent]:
        if event.get("Event") == "UserEvent":
            if event.get("UserEvent") == FAR_CALL_EVENT:
                self._far.told(event)
            return []
        if self._far:
            event = self._far.renamed(event)
        # Every name matched here is in event_names.LEARNER_EVENTS (what Asterisk is asked for).
        match event.get("Event"):
            case "DialBegin":
                return self._dial_begin(event, at)
            case "DialEnd":
                return self._dial_end(event, at)
            case "AgentConnect":
                return self._agent_connect(event, at)
            case "BlindTransfer":
                return self._blind_transfer(event)
            case "AttendedTransfer":
                return self._attended_transfer(event, at)
            case "QueueCallerJoin":
                return self._queue_join(event)
            case "HangupRequest" | "SoftHangupRequest" as kind:
                self._hangup_request(event, soft=kind == "SoftHangupRequest")
                return []
            case "Hangup":
                return self._hangup(event, at)
        return []

    def _dial_begin(self, event: Event, at: datetime) -> list[CallEvent]:
        destination = event.get("DestChannel", "")
        leg_id, agent = event.get("DestUniqueid", ""), endpoint_of(destination)
        call_id = self._leg_calls.get(leg_id) or event.get("DestLinkedid", "")
        dialler = event.get("Uniqueid", "")
        if leg_id and call_id and dialler == call_id and is_local(destination):
            # Queue() or the sticky Dial() ringing a Local member: the phones it rings follow.
            self._call(call_id).hops[destination.removesuffix(";1")] = leg_id
            return []
        if not leg_id or agent is None or not call_id or leg_id == call_id:
            return []
        call = self._call(call_id)
        hop = call.hops.get(event.get("Channel", "").removesuffix(";2"))
        # While the member rings, what its second half dials is one of the agent's phones: the
        # member's leg. Once answered, it is a transfer target (the /n Local channel stays in
        # the path, so the agent's transfer moves its second half, not the caller).
        if hop is not None and not (hop in call.legs and call.legs[hop].answered):
            call.aliases[leg_id] = hop
            self._leg_calls[leg_id] = call_id
            leg_id = hop
        if leg_id in call.legs:
            return []
        # Not the caller's channel dialling while an agent talks with the caller, but, say,
        # Local/agent3@...;2 of an attended transfer: that agent is consulting a colleague.
        # Recorded at once as a consultation, which becomes a handover when the transfer
        # completes or the caller hangs up waiting; one the colleague declines never does.
        dialler = event.get("Uniqueid", "")
        consult = call.blind_from is None and call.partner is not None
        consult = consult and dialler not in ("", call_id)
        source = call.partner if consult else call.blind_from
        self._add_leg(call_id, call, leg_id, _Leg(agent, source, consult))
        return [LegRang(call_id, leg_id, agent, at, source, consultation=consult)]

    def _dial_end(self, event: Event, at: datetime) -> list[CallEvent]:
        found = self._find(event.get("DestUniqueid", ""))
        if found is None:
            return []
        call_id, call, leg_id, leg = found
        status = event.get("DialStatus", "")
        phone = event.get("DestUniqueid", "")
        if phone in call.aliases:
            if status != "ANSWER":
                return []  # one phone of several stopped ringing: the member's own end decides
            leg.phone = phone
        if status == "ANSWER":
            if not leg.consult:  # the caller talks with this agent now
                self._connect(call, leg_id)
            return self._answered(call_id, leg_id, leg, at)
        if not status or leg.ended or leg.answered:
            return []
        leg.ended = True
        side = HangupSide.CALLER if call.caller_hung_up else None
        return [LegEnded(call_id, leg_id, at, status, side)]

    def _agent_connect(self, event: Event, at: datetime) -> list[CallEvent]:
        writes = (
            [] if event.get("DestUniqueid", "") in self._leg_calls else self._dial_begin(event, at)
        )
        found = self._find(event.get("DestUniqueid", ""))
        if found is None:
            return writes
        call_id, call, leg_id, leg = found
        self._connect(call, leg_id)
        return writes + self._answered(call_id, leg_id, leg, at)

    def _blind_transfer(self, event: Event) -> list[CallEvent]:
        found = self._find(event.get("TransfererUniqueid", ""))
        if event.get("Result") != "Success" or found is None:
            return []
        _, call, leg_id, leg = found
        # The caller now dials the target from the dialplan: the next legs are the transfer's.
        leg.handed_over = True
        call.blind_from, call.side = leg_id, None
        if call.partner == leg_id:
            call.partner = None
        return []

    def _attended_transfer(self, event: Event, at: datetime) -> list[CallEvent]:
        found = self._find(event.get("OrigTransfererUniqueid", "")) or self._find(
            event.get("SecondTransfererUniqueid", "")
        )
        if event.get("Result") != "Success" or found is None:
            return []
        call_id, call, from_id, from_leg = found
        from_leg.handed_over = True
        writes: list[CallEvent] = []
        target_id = event.get("TransferTargetUniqueid", "")
        target_agent = endpoint_of(event.get("TransferTargetChannel", ""))
        if target_id and target_agent is not None:
            # A phone's own consultation call (SIP REFER with Replaces): the target rang in a
            # call of its own, and joins this one now.
            target = call.legs.get(target_id)
            if target is None:
                target = self._take_leg(target_id) or _Leg(target_agent, None)
                target.transferred_from = from_id
                self._add_leg(call_id, call, target_id, target)
            writes.append(LegRang(call_id, target_id, target.agent, at, from_id))
            if target.consult:  # consulted through this call first: now handed over
                target.consult = False
                writes.append(Handover(call_id, target_id))
            if event.get("TransferTargetChannelStateDesc") == "Up" or target.answered:
                target.answered = True  # in that other call, maybe; in this one from now
                writes.append(LegAnswered(call_id, target_id, at))
        else:
            # Asterisk ran the transfer (AMI Atxfer, features): the target is the colleague the
            # transferer consulted through a Local channel, already recorded at DialBegin.
            consulted = [
                i for i, leg in call.legs.items()
                if leg.consult and leg.answered and leg.transferred_from == from_id
            ]  # fmt: skip
            target_id = consulted[-1] if consulted else ""
            if target_id:
                call.legs[target_id].consult = False
                writes.append(Handover(call_id, target_id))
        if target_id in call.legs and call.legs[target_id].answered:
            self._connect(call, target_id)
        elif call.partner == from_id:
            call.partner = None
        return writes

    def _queue_join(self, event: Event) -> list[CallEvent]:
        """The caller joins a queue after an agent transferred them (blind transfer to a queue's
        extension): an escalation to that queue. A caller's first queue is the router's doing
        (or the dialplan's) and is not one: no agent handed them over."""
        call_id = event.get("Uniqueid", "")
        call = self._calls.get(call_id)
        queue = event.get("Queue", "")
        if call is None or not queue or call_id != event.get("Linkedid"):
            return []
        if not any(leg.handed_over for leg in call.legs.values()):
            return []
        return [EscalatedToQueue(call_id, queue)]

    def _hangup_request(self, event: Event, soft: bool) -> None:
        channel = event.get("Uniqueid", "")
        found = self._find_talking(channel)
        if found is not None:
            _, call, leg_id, leg = found
            leg.hung_up = leg.hung_up or not soft
            if call.partner == leg_id and call.side is None:
                call.side = HangupSide.SYSTEM if soft else HangupSide.AGENT
            return
        if channel and channel == event.get("Linkedid"):  # the caller's own channel
            call = self._call(channel)
            call.caller_hung_up = call.caller_hung_up or not soft
            if call.side is None:
                call.side = HangupSide.SYSTEM if soft else HangupSide.CALLER

    def _hangup(self, event: Event, at: datetime) -> list[CallEvent]:
        channel = event.get("Uniqueid", "")
        found = self._find_talking(channel)
        if found is not None:
            call_id, call, leg_id, leg = found
            if call.partner == leg_id:
                call.partner = None
            return self._end_leg(call_id, call, leg_id, leg, at)
        if not channel or channel != event.get("Linkedid"):
            return []
        # The caller's channel: the call is over. Legs still up end with it (their own Hangup
        # follows within milliseconds), and the call is forgotten. A colleague still being
        # consulted was someone the caller was waiting for: that is a handover.
        call = self._forget(channel) or _Call()
        writes: list[CallEvent] = [
            Handover(channel, leg_id)
            for leg_id, leg in call.legs.items()
            if leg.consult and not leg.ended
        ]
        writes += [
            write
            for leg_id, leg in call.legs.items()
            for write in self._end_leg(channel, call, leg_id, leg, at)
        ]
        return [*writes, CallEnded(channel, at, call.side)]

    # -- state --------------------------------------------------------------------------------

    def _call(self, call_id: str) -> _Call:
        call = self._calls.get(call_id)
        if call is None:
            call = self._calls[call_id] = _Call()
            if len(self._calls) > self._max_calls:
                oldest = next(iter(self._calls))
                log.debug("ami_call_forgotten", call_id=oldest, reason="too_many_calls")
                self._forget(oldest)
        return call

    def _forget(self, call_id: str) -> _Call | None:
        call = self._calls.pop(call_id, None)
        for leg_id in [*call.legs, *call.aliases] if call else ():
            if self._leg_calls.get(leg_id) == call_id:
                del self._leg_calls[leg_id]
        return call

    def _find(self, leg_id: str) -> tuple[str, _Call, str, _Leg] | None:
        call_id = self._leg_calls.get(leg_id)
        call = self._calls.get(call_id) if call_id else None
        if call_id is None or call is None:
            return None
        leg_id = call.aliases.get(leg_id, leg_id)
        if leg_id not in call.legs:
            return None
        return call_id, call, leg_id, call.legs[leg_id]

    def _find_talking(self, channel: str) -> tuple[str, _Call, str, _Leg] | None:
        """The leg a channel's hang-up speaks for: its own, or for a phone behind a Local member
        the member's leg, but only from the phone that answered (the others just stop
        ringing)."""
        found = self._find(channel)
        if found is None:
            return None
        call, leg = found[1], found[3]
        if channel in call.aliases and leg.phone != channel:
            return None
        return found

    def _add_leg(self, call_id: str, call: _Call, leg_id: str, leg: _Leg) -> None:
        call.legs[leg_id] = leg
        self._leg_calls[leg_id] = call_id

    def _take_leg(self, leg_id: str) -> _Leg | None:
        found = self._find(leg_id)
        if found is None:
            return None
        del found[1].legs[leg_id]
        return found[3]

    @staticmethod
    def _answered(call_id: str, leg_id: str, leg: _Leg, at: datetime) -> list[CallEvent]:
        if leg.answered:
            return []
        leg.answered = True
        return [LegAnswered(call_id, leg_id, at)]

    @staticmethod
    def _connect(call: _Call, leg_id: str) -> None:
        call.partner, call.side, call.blind_from = leg_id, None, None

    @staticmethod
    def _end_leg(
        call_id: str, call: _Call, leg_id: str, leg: _Leg, at: datetime
    ) -> list[CallEvent]:
        if leg.ended:
            return []
        leg.ended = True
        if leg.hung_up or leg.handed_over:
            side: HangupSide | None = HangupSide.AGENT
        elif call.caller_hung_up:
            side = HangupSide.CALLER
        else:
            side = call.side if leg.answered else None
        return [LegEnded(call_id, leg_id, at, "ANSWER" if leg.answered else "CANCEL", side)]
