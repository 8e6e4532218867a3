"""The sticky routing policy of routing.md as one pure function: facts in, decision out.

No I/O, no clock: the call carries its own time, so the 119-versus-121-minute edge is a plain
table test and a replay of last year's history gives the answers it would have given then.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache

from sticky_router.routing_core.decision import (
    EXCLUSION_TO_QUEUE_REASON,
    BlockedDecision,
    Candidate,
    CandidateReason,
    Decision,
    DecisionContext,
    ExcludedCandidate,
    Exclusion,
    QueueDecision,
    QueueReason,
    StickyDecision,
)
from sticky_router.routing_core.model import (
    AgentRole,
    CallerFacts,
    IncomingCall,
    Leg,
    PairingKind,
    PastInteraction,
)
from sticky_router.routing_core.settings import EffectiveSettings, RoutingSettings, TargetPrecedence
from sticky_router.routing_core.slot_init import slot_init


def decide(
    call: IncomingCall,
    facts: CallerFacts,
    settings: EffectiveSettings,
    number: str | None = None,
) -> Decision:
    knobs = settings.values
    identity = facts.identity
    last_talk = _last_conversation(facts.history, facts, knobs)
    context = DecisionContext(
        call=call,
        number=number,
        identity=identity,
        settings=settings,
        last_contact=last_talk.candidate if last_talk else None,
        incident=facts.incident,
    )
    if facts.caller_block is not None:
        return BlockedDecision(context, facts.caller_block)
    if identity.key is None:
        return QueueDecision(context, QueueReason.NO_CALLER_KEY)
    if not knobs.enabled:
        return QueueDecision(context, QueueReason.DISABLED)
    if identity.ambiguous and not knobs.ambiguous_number_sticky:
        return QueueDecision(context, QueueReason.AMBIGUOUS_CALLER)
    if facts.incident is not None and knobs.outage_window_minutes == 0:
        return QueueDecision(context, QueueReason.OUTAGE)

    # The calls whose window still holds, newest first: rules 1 and 2 both read them.
    recent = _inside_window(call, facts, knobs)
    candidates = _candidates(recent, last_talk, facts, knobs)
    escalated_queue = _escalated_queue(recent)
    escalation = any(c.reason is CandidateReason.ESCALATED_TO_SPECIALIST for c in candidates)
    if escalated_queue is not None and not escalation:
        # Handed to second line, and nobody there took the call: straight back to that queue,
        # never to first line.
        return QueueDecision(context, QueueReason.ESCALATED_TO_QUEUE, queue=escalated_queue)
    # A specialist who cannot take the callback leaves it with second line too.
    second_line = (escalated_queue or knobs.escalation_queue or None) if escalation else None
    if not candidates:
        return QueueDecision(context, _why_no_candidate(call, facts, knobs, context))

    allowed: list[Candidate] = []
    excluded: list[ExcludedCandidate] = []
    for candidate in candidates:
        exclusion = _exclusion(candidate, facts, knobs)
        if exclusion is None:
            allowed.append(candidate)
        else:
            excluded.append(ExcludedCandidate(candidate, exclusion))
    if not allowed:
        reason = EXCLUSION_TO_QUEUE_REASON[excluded[0].exclusion]
        return QueueDecision(context, reason, tuple(excluded), queue=second_line)
    return StickyDecision(context, tuple(allowed), tuple(excluded), fallback_queue=second_line)


def _inside_window(
    call: IncomingCall, facts: CallerFacts, knobs: RoutingSettings
) -> list[PastInteraction]:
    """The caller's calls whose window still holds at `call`, newest first. The window runs from
    the end of the call, never from ticket creation; once that call's ticket is resolved, or while
    an outage is declared, a shorter window set for it holds."""
    outage = facts.incident is not None
    recent = []
    for interaction in facts.history:
        minutes = knobs.window_minutes
        if interaction.ticket_resolved:
            minutes = min(minutes, knobs.resolved_ticket_window_minutes)
        if outage:
            minutes = min(minutes, knobs.outage_window_minutes)
        if call.at - interaction.ended_at <= _minutes(minutes):
            recent.append(interaction)
    return recent


@lru_cache(maxsize=64)
def _minutes(minutes: int) -> timedelta:
    # Built once per window length: timedelta(minutes=) for every past call of every call was
    # about 6 % of the year's replay (py-spy).
    return timedelta(minutes=minutes)


def _why_no_candidate(
    call: IncomingCall, facts: CallerFacts, knobs: RoutingSettings, context: DecisionContext
) -> QueueReason:
    if context.last_contact is None:
        return QueueReason.NO_HISTORY
    newest = facts.history[0] if facts.history else None
    if newest is None or call.at - newest.ended_at > _minutes(knobs.window_minutes):
        return QueueReason.WINDOW_EXPIRED
    # Inside the ordinary window: a shorter one cut it short.
    if facts.incident is not None:
        return QueueReason.OUTAGE
    return QueueReason.TICKET_RESOLVED if newest.ticket_resolved else QueueReason.WINDOW_EXPIRED


def _candidates(
    recent: list[PastInteraction],
    last_talk: _Talk | None,
    facts: CallerFacts,
    knobs: RoutingSettings,
) -> list[Candidate]:
    ordered: list[Candidate] = []
    customer = facts.identity.customer
    if knobs.use_personal_manager and customer and customer.personal_agent_id is not None:
        manager = facts.agents.get(customer.personal_agent_id)
        if manager is not None:
            ordered.append(Candidate(manager, CandidateReason.PERSONAL_MANAGER))

    history_choice = _escalation_target(recent, facts) or _last_in_window(
        recent, last_talk, facts, knobs
    )
    owner = _ticket_owner(facts)
    if owner is not None and knobs.target_precedence is TargetPrecedence.OWNER_FIRST:
        ordered.append(owner)
    if history_choice is not None:
        ordered.append(history_choice)
    if owner is not None and knobs.target_precedence is TargetPrecedence.OWNER_AFTER_LAST_AGENT:
        ordered.append(owner)

    unique: list[Candidate] = []
    for candidate in ordered:
        if all(candidate.agent.id != kept.agent.id for kept in unique):
            unique.append(candidate)
    return unique


def _escalated_queue(recent: list[PastInteraction]) -> str | None:
    """Rule 1 for a queue: the newest call in the window was handed to a second-line queue."""
    return recent[0].escalated_queue if recent else None


def _escalation_target(recent: list[PastInteraction], facts: CallerFacts) -> Candidate | None:
    """Rule 1: the newest call in the window was handed (or was being handed) to a specialist.

    The transfer leg counts even if nobody answered it: the caller who gave up while waiting for
    the second line must reach the second line next time, not start over at the first.
    """
    if not recent:
        return None
    newest = recent[0]
    transfers = [
        leg
        for leg in newest.legs
        if leg.transferred and leg.role is AgentRole.SPECIALIST and leg.agent_id in facts.agents
    ]
    if not transfers:
        return None
    leg = max(transfers, key=_leg_order)
    return Candidate(
        facts.agents[leg.agent_id],
        CandidateReason.ESCALATED_TO_SPECIALIST,
        last_contact_ended_at=newest.ended_at,
        talk_seconds=leg.talk_seconds,
    )


@slot_init
@dataclass(frozen=True, slots=True)
class _Talk:
    """The last conversation found in a history: the call, and its agent as a candidate."""

    interaction: PastInteraction
    candidate: Candidate


def _last_conversation(
    history: Sequence[PastInteraction], facts: CallerFacts, knobs: RoutingSettings
) -> _Talk | None:
    """Rule 2: the last agent who really talked with the caller (misdials do not count), in
    `history`, newest first: the calls inside the window for a target, every call to answer "who
    was it, and how long ago" when explaining a window that expired."""
    for interaction in history:
        talked = [
            leg
            for leg in interaction.legs
            if leg.talk_seconds >= knobs.min_talk_seconds and leg.agent_id in facts.agents
        ]
        if talked:
            leg = talked[0] if len(talked) == 1 else max(talked, key=_leg_order)
            return _Talk(
                interaction,
                Candidate(
                    facts.agents[leg.agent_id],
                    CandidateReason.LAST_AGENT,
                    last_contact_ended_at=interaction.ended_at,
                    talk_seconds=leg.talk_seconds,
                ),
            )
    return None


def _last_in_window(
    recent: list[PastInteraction],
    last_talk: _Talk | None,
    facts: CallerFacts,
    knobs: RoutingSettings,
) -> Candidate | None:
    """Rule 2 inside the window. `recent` is part of the history, in the same order, so the last
    conversation of the whole history, when it is inside the window, is the answer; with no
    conversation at all, there is none: the history is searched once, not twice."""
    if last_talk is None:
        return None
    if any(interaction is last_talk.interaction for interaction in recent):
        return last_talk.candidate
    found = _last_conversation(recent, facts, knobs)
    return found.candidate if found else None


def _leg_order(leg: Leg) -> tuple[float, float]:
    ended = leg.ended_at.timestamp() if leg.ended_at else float("inf")
    rang = leg.rang_at.timestamp() if leg.rang_at else 0.0
    return (ended, rang)


def _ticket_owner(facts: CallerFacts) -> Candidate | None:
    ticket = facts.identity.ticket
    if ticket is None or ticket.owner_agent_id is None or ticket.status == "closed":
        return None
    owner = facts.agents.get(ticket.owner_agent_id)
    if owner is None:
        return None
    return Candidate(owner, CandidateReason.TICKET_OWNER, ticket=ticket)


def _exclusion(
    candidate: Candidate, facts: CallerFacts, knobs: RoutingSettings
) -> Exclusion | None:
    agent = candidate.agent
    if not agent.active:
        return Exclusion.INACTIVE
    bans = {ban.kind for ban in facts.pairing_bans if ban.agent_id == agent.id}
    if PairingKind.ABUSE in bans:
        return Exclusion.ABUSE
    if PairingKind.AGENT_REQUEST in bans:
        return Exclusion.DO_NOT_PAIR
    # The cap keeps stickiness from swamping one agent; a personal manager is assigned on purpose.
    if candidate.reason is not CandidateReason.PERSONAL_MANAGER and (
        facts.sticky_calls_last_hour.get(agent.id, 0) >= knobs.sticky_cap_per_hour
    ):
        return Exclusion.CAP_REACHED
    return None
