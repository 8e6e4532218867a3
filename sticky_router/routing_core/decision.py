"""What the core answers: ring these agents in this order, or the queue and why, or the block.

Adapters turn a decision into channel operations (ARI), channel variables (FastAGI) or a screen
(web). They never re-derive anything from it: every reason a support engineer may ask about is here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sticky_router.routing_core.model import (
    Agent,
    BlockDestinationKind,
    CallerBlock,
    CallerKey,
    Identity,
    Incident,
    IncomingCall,
    Ticket,
)
from sticky_router.routing_core.settings import EffectiveSettings
from sticky_router.routing_core.slot_init import slot_init


class CandidateReason(StrEnum):
    PERSONAL_MANAGER = "personal_manager"
    ESCALATED_TO_SPECIALIST = "escalated_to_specialist"
    LAST_AGENT = "last_agent"
    TICKET_OWNER = "ticket_owner"


class Exclusion(StrEnum):
    """Why a candidate must not be rung."""

    ABUSE = "abuse"
    DO_NOT_PAIR = "do_not_pair"
    CAP_REACHED = "cap_reached"
    INACTIVE = "agent_inactive"
    CLAIMED = "claimed_by_another_call"


class QueueReason(StrEnum):
    """Why a call went to the normal queue; the miss reasons routing.md reports on."""

    NO_HISTORY = "no_history"
    WINDOW_EXPIRED = "window_expired"
    # Inside the window, but the last call's ticket is resolved and its shorter window is over.
    TICKET_RESOLVED = "ticket_resolved"
    OUTAGE = "outage"  # an incident is declared: stickiness steps aside
    BUSY = "busy"
    PAUSED = "paused"
    WRAP_UP = "wrap_up"  # free, but still in after-call work
    OFFLINE = "offline"  # not logged in to the queue
    UNREACHABLE = "unreachable"  # logged in, but Asterisk cannot reach the phone
    NO_ANSWER = "no_answer"
    REJECTED = "rejected"
    CAP_REACHED = "cap_reached"
    DO_NOT_PAIR = "do_not_pair"
    AMBIGUOUS_CALLER = "ambiguous_caller"
    DB_TIMEOUT = "db_timeout"
    DB_ERROR = "db_error"
    CALLER_ABANDONED = "caller_abandoned"
    DISABLED = "disabled"
    NO_CALLER_KEY = "no_caller_key"
    AGENT_INACTIVE = "agent_inactive"
    ROUTER_ERROR = "router_error"
    # Not a miss: the caller's last call was handed to a second-line queue nobody there took;
    # the callback goes straight to that queue.
    ESCALATED_TO_QUEUE = "escalated_to_queue"


EXCLUSION_TO_QUEUE_REASON = {
    Exclusion.ABUSE: QueueReason.DO_NOT_PAIR,
    Exclusion.DO_NOT_PAIR: QueueReason.DO_NOT_PAIR,
    Exclusion.CAP_REACHED: QueueReason.CAP_REACHED,
    Exclusion.INACTIVE: QueueReason.AGENT_INACTIVE,
    Exclusion.CLAIMED: QueueReason.BUSY,
}


class Route(StrEnum):
    STICKY = "sticky"
    QUEUE = "queue"
    BLOCKED = "blocked"


@slot_init
@dataclass(frozen=True, slots=True)
class Candidate:
    """An agent worth ringing, and the evidence for it."""

    agent: Agent
    reason: CandidateReason
    last_contact_ended_at: datetime | None = None
    talk_seconds: float | None = None
    ticket: Ticket | None = None


@slot_init
@dataclass(frozen=True, slots=True)
class ExcludedCandidate:
    candidate: Candidate
    exclusion: Exclusion


@slot_init
@dataclass(frozen=True, slots=True)
class DecisionContext:
    """What every decision carries so that whoever answers sees the caller's context."""

    call: IncomingCall
    number: str | None
    identity: Identity
    settings: EffectiveSettings
    last_contact: Candidate | None = None  # the newest conversation, even outside the window
    incident: Incident | None = None  # an outage declared for this call

    @property
    def key(self) -> CallerKey | None:
        return self.identity.key


@slot_init
@dataclass(frozen=True, slots=True)
class StickyDecision:
    context: DecisionContext
    candidates: tuple[Candidate, ...]
    excluded: tuple[ExcludedCandidate, ...] = ()
    route: Route = Route.STICKY
    fallback_queue: str | None = None  # on a miss, this queue instead of the call's own

    @property
    def target(self) -> Candidate:
        return self.candidates[0]


@slot_init
@dataclass(frozen=True, slots=True)
class QueueDecision:
    context: DecisionContext
    reason: QueueReason
    excluded: tuple[ExcludedCandidate, ...] = ()
    route: Route = Route.QUEUE
    queue: str | None = None  # a queue other than the call's own (second line)


@slot_init
@dataclass(frozen=True, slots=True)
class BlockedDecision:
    context: DecisionContext
    block: CallerBlock
    route: Route = Route.BLOCKED


Decision = StickyDecision | QueueDecision | BlockedDecision


def destination_queue(decision: Decision) -> str | None:
    """The queue a missed, queued or blocked call goes to when it is not the call's own."""
    if isinstance(decision, StickyDecision):
        return decision.fallback_queue
    if isinstance(decision, QueueDecision):
        return decision.queue
    if decision.block.destination_kind is BlockDestinationKind.QUEUE:
        return decision.block.destination
    return None
