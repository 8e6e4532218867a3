"""What an AMI event implies for the records: the writes, and the recorder they are made on.

Each write is one idempotent CallRecorder call (routing_core/store/recorder.py), applied by
ami/connection.py in order per call; ami/learner.py decides which writes an event implies.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from routing_core.model import HangupSide


class Recorder(Protocol):
    """What the learner needs of routing_core.store.recorder.CallRecorder."""

    async def leg_rang(
        self,
        call_id: str,
        leg_id: str,
        agent: str,
        at: datetime,
        transferred_from_leg_id: str | None = None,
    ) -> bool: ...
    async def transfer(
        self,
        call_id: str,
        from_leg_id: str,
        to_leg_id: str,
        to_agent: str,
        at: datetime,
        consultation: bool = False,
    ) -> bool: ...
    async def handover(self, call_id: str, leg_id: str) -> bool: ...
    async def escalated_to_queue(self, call_id: str, queue: str) -> bool: ...
    async def leg_answered(self, call_id: str, leg_id: str, at: datetime) -> bool: ...
    async def leg_ended(
        self,
        call_id: str,
        leg_id: str,
        at: datetime,
        outcome: str,
        hangup_side: HangupSide | None = None,
    ) -> bool: ...
    async def call_ended(
        self, call_id: str, at: datetime, hangup_side: HangupSide | None
    ) -> bool: ...


@dataclass(frozen=True, slots=True)
class LegRang:
    """An agent's phone rang for the call; `transferred_from` is the leg that handed it over,
    or (`consultation`) the leg whose agent is consulting this colleague."""

    call_id: str
    leg_id: str
    agent: str
    at: datetime
    transferred_from: str | None = None
    consultation: bool = False

    async def apply(self, recorder: Recorder) -> bool:
        if self.transferred_from is None:
            return await recorder.leg_rang(self.call_id, self.leg_id, self.agent, self.at)
        return await recorder.transfer(
            self.call_id, self.transferred_from, self.leg_id, self.agent, self.at,
            consultation=self.consultation,
        )  # fmt: skip


@dataclass(frozen=True, slots=True)
class Handover:
    """A consulted colleague's leg became a handover: the transfer completed, or the caller hung
    up while waiting for them."""

    call_id: str
    leg_id: str

    async def apply(self, recorder: Recorder) -> bool:
        return await recorder.handover(self.call_id, self.leg_id)


@dataclass(frozen=True, slots=True)
class LegAnswered:
    call_id: str
    leg_id: str
    at: datetime

    async def apply(self, recorder: Recorder) -> bool:
        return await recorder.leg_answered(self.call_id, self.leg_id, self.at)


@dataclass(frozen=True, slots=True)
class LegEnded:
    call_id: str
    leg_id: str
    at: datetime
    outcome: str  # the dial status: ANSWER for a leg that was answered, else CANCEL, BUSY, ...
    side: HangupSide | None

    async def apply(self, recorder: Recorder) -> bool:
        return await recorder.leg_ended(self.call_id, self.leg_id, self.at, self.outcome, self.side)


@dataclass(frozen=True, slots=True)
class CallEnded:
    call_id: str
    at: datetime
    side: HangupSide | None

    async def apply(self, recorder: Recorder) -> bool:
        return await recorder.call_ended(self.call_id, self.at, self.side)


@dataclass(frozen=True, slots=True)
class EscalatedToQueue:
    """A transferred caller joined another queue: the escalation is kept even if nobody there
    answers before the caller gives up."""

    call_id: str
    queue: str

    async def apply(self, recorder: Recorder) -> bool:
        return await recorder.escalated_to_queue(self.call_id, self.queue)


Write = LegRang | Handover | EscalatedToQueue | LegAnswered | LegEnded | CallEnded
