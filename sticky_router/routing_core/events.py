"""What the router learns about a call, as events: kept in the journal first, then applied to
the history in PostgreSQL by `CallRecorder`.

Every adapter (the ARI application, the AMI learner, the FastAGI scripts) reports what it saw
as one of these. Each is a small frozen record that survives a trip to disk and back as JSON
(`encode`/`decode`), and knows the one idempotent recorder call it stands for (`apply`), so an
event applied twice, or heard from two sources, changes nothing the second time.
"""

from __future__ import annotations

import dataclasses
import json
import typing
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sticky_router.routing_core.decision import Decision, QueueDecision, StickyDecision
from sticky_router.routing_core.model import HangupSide, IncomingCall


class Recorder(Protocol):
    """What applying events needs of routing_core.store.recorder.CallRecorder."""

    async def call_started(self, call: IncomingCall, number: str | None) -> bool: ...
    async def decision_made(self, made: DecisionMade) -> bool: ...
    async def call_routed(self, call_id: str, outcome: str, reason: str | None = None) -> bool: ...
    async def leg_rang(
        self,
        call_id: str,
        leg_id: str,
        agent: str,
        at: datetime,
        transferred_from_leg_id: str | None = None,
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
        self,
        call_id: str,
        at: datetime,
        hangup_side: HangupSide | None,
        outcome: str | None = None,
        reason: str | None = None,
    ) -> bool: ...
    async def callback_requested(self, asked: CallbackRequested) -> bool: ...
    async def callback_dialled(self, callback_id: int, call_id: str, at: datetime) -> bool: ...


@dataclass(frozen=True, slots=True)
class CallStarted:
    """A call reached the router; `number` is the caller's number as normalised for lookup."""

    call_id: str
    at: datetime
    queue: str
    number: str | None = None
    did: str | None = None
    ivr_account: str | None = None
    ivr_ticket: str | None = None
    ivr_menu: str | None = None

    @classmethod
    def of(cls, call: IncomingCall, number: str | None) -> CallStarted:
        return cls(
            call.call_id, call.at, call.queue, number, call.did,
            call.ivr_account, call.ivr_ticket, call.ivr_menu,
        )  # fmt: skip

    async def apply(self, recorder: Recorder) -> bool:
        call = IncomingCall(
            self.call_id, None, self.at, self.queue, self.did,
            self.ivr_ticket, self.ivr_account, self.ivr_menu,
        )  # fmt: skip
        return await recorder.call_started(call, self.number)


@dataclass(frozen=True, slots=True)
class DecisionMade:
    """Who the caller turned out to be and what the core decided (the first decision stays).
    `reason` is the queue reason, the sticky candidate's reason, or `blocked`."""

    call_id: str
    route: str
    reason: str
    key_kind: str | None = None
    key_value: str | None = None
    customer_id: int | None = None
    ticket_id: int | None = None
    target_agent_id: int | None = None
    # A mirrored ticket's external id: all an external source's ticket has (a built-in ticket
    # is `ticket_id`; journals written before this field decode with None).
    ticket_ref: str | None = None

    @classmethod
    def of(cls, decision: Decision) -> DecisionMade:
        identity = decision.context.identity
        key = identity.key
        if isinstance(decision, QueueDecision):
            reason = decision.reason.value
        elif isinstance(decision, StickyDecision):
            reason = decision.target.reason.value
        else:
            reason = "blocked"
        return cls(
            call_id=decision.context.call.call_id,
            route=decision.route.value,
            reason=reason,
            key_kind=key.kind.value if key else None,
            key_value=key.value if key else None,
            customer_id=identity.customer.id if identity.customer else None,
            ticket_id=identity.ticket.local_id if identity.ticket else None,
            target_agent_id=(
                decision.target.agent.id if isinstance(decision, StickyDecision) else None
            ),
            ticket_ref=(
                identity.ticket.external_id
                if identity.ticket and identity.ticket.mirrored_from
                else None
            ),
        )

    async def apply(self, recorder: Recorder) -> bool:
        return await recorder.decision_made(self)


@dataclass(frozen=True, slots=True)
class CallRouted:
    """Where the call went before it ended: sticky, queue, blocked or abandoned, and why a
    sticky attempt missed."""

    call_id: str
    outcome: str
    reason: str | None = None

    async def apply(self, recorder: Recorder) -> bool:
        return await recorder.call_routed(self.call_id, self.outcome, self.reason)


@dataclass(frozen=True, slots=True)
class LegRang:
    """An agent's phone rang for the call; `transferred_from` is the leg that handed it over,
    or (`consultation`) the leg whose agent is consulting this colleague. `agent` is an
    endpoint or an agent name."""

    call_id: str
    leg_id: str
    agent: str
    at: datetime
    transferred_from: str | None = None
    consultation: bool = False

    async def apply(self, recorder: Recorder) -> bool:
        return await recorder.leg_rang(
            self.call_id, self.leg_id, self.agent, self.at, self.transferred_from,
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
class EscalatedToQueue:
    """A transferred caller joined another queue: the escalation is kept even if nobody there
    answers before the caller gives up."""

    call_id: str
    queue: str

    async def apply(self, recorder: Recorder) -> bool:
        return await recorder.escalated_to_queue(self.call_id, self.queue)


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
    side: HangupSide | None = None

    async def apply(self, recorder: Recorder) -> bool:
        return await recorder.leg_ended(self.call_id, self.leg_id, self.at, self.outcome, self.side)


@dataclass(frozen=True, slots=True)
class CallEnded:
    """The caller's channel is gone; the window of the next callback counts from `at`.
    `outcome` and `reason` as for CallRouted, when the reporter knows them."""

    call_id: str
    at: datetime
    side: HangupSide | None
    outcome: str | None = None
    reason: str | None = None

    async def apply(self, recorder: Recorder) -> bool:
        return await recorder.call_ended(
            self.call_id, self.at, self.side, self.outcome, self.reason
        )


@dataclass(frozen=True, slots=True)
class CallbackRequested:
    """The caller, offered to wait for their busy agent, asked that agent to call them back
    (routing_core.wait_offer): owned by `agent` (a name or endpoint) until `expires_at`."""

    call_id: str
    agent: str
    number: str
    queue: str
    at: datetime
    expires_at: datetime

    async def apply(self, recorder: Recorder) -> bool:
        return await recorder.callback_requested(self)


@dataclass(frozen=True, slots=True)
class CallbackDialled:
    """A callback is being dialled: a call of its own (`call_id`, the agent channel's id), in
    the history as the requesting caller's, so what is said on it is learned like any call."""

    callback_id: int
    call_id: str
    at: datetime

    async def apply(self, recorder: Recorder) -> bool:
        return await recorder.callback_dialled(self.callback_id, self.call_id, self.at)


CallEvent = (
    CallStarted | DecisionMade | CallRouted | LegRang | Handover | EscalatedToQueue
    | LegAnswered | LegEnded | CallEnded | CallbackRequested | CallbackDialled
)  # fmt: skip

_KINDS: dict[str, type[CallEvent]] = {
    kind.__name__: kind
    for kind in (
        CallStarted, DecisionMade, CallRouted, LegRang, Handover, EscalatedToQueue,
        LegAnswered, LegEnded, CallEnded, CallbackRequested, CallbackDialled,
    )
}  # fmt: skip


# Each kind's field types, resolved once: typing.get_type_hints evaluates the (string)
# annotations every time it is called, and was a tenth of the router's CPU under load when the
# journal's applier decoded every due event with it (py-spy, bench/post_dial_delay.py).
_HINTS: dict[type[CallEvent], dict[str, Any]] = {
    kind: typing.get_type_hints(kind) for kind in _KINDS.values()
}


class UnreadableEvent(ValueError):
    """A journal entry that is not an event this version knows (or not JSON at all)."""


def encode(event: CallEvent) -> str:
    """One line of JSON: the event's kind and its fields (times in ISO 8601 with their offset)."""
    body: dict[str, Any] = {"kind": type(event).__name__}
    for field in dataclasses.fields(event):
        value = getattr(event, field.name)
        if isinstance(value, datetime):
            value = value.isoformat()
        elif isinstance(value, HangupSide):
            value = value.value
        body[field.name] = value
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False)


def decode(text: str) -> CallEvent:
    try:
        body = json.loads(text)
        kind = _KINDS[body.pop("kind")]
        hints = _HINTS[kind]
        values: dict[str, Any] = {}
        for name, value in body.items():
            hint = hints[name]
            if value is not None and hint in (datetime, datetime | None):
                value = datetime.fromisoformat(value)
            elif value is not None and hint == HangupSide | None:
                value = HangupSide(value)
            values[name] = value
        return kind(**values)
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise UnreadableEvent(f"not a call event: {error!r}") from None


class EventSink(Protocol):
    """Where adapters report what they learned: the journal (tests may use a list)."""

    async def append(self, *events: CallEvent) -> bool: ...
