"""A decision in the words a support engineer uses when a customer asks "why did I get Bob?"."""

from __future__ import annotations

from datetime import datetime

from sticky_router.routing_core.decision import (
    BlockedDecision,
    Candidate,
    CandidateReason,
    Decision,
    Exclusion,
    QueueDecision,
    QueueReason,
)
from sticky_router.routing_core.model import BlockDestinationKind, KeyKind

_KEY_SOURCE = {
    KeyKind.TICKET: "ticket number keyed in the IVR",
    KeyKind.ACCOUNT: "account number keyed in the IVR",
    KeyKind.NUMBER: "caller ID",
}

_EXCLUSION_WORDS = {
    Exclusion.ABUSE: "flagged: the caller was abusive towards this agent",
    Exclusion.DO_NOT_PAIR: "the agent asked not to be routed this caller",
    Exclusion.CAP_REACHED: "the agent has reached the cap on sticky calls this hour",
    Exclusion.INACTIVE: "the agent is disabled or has left the queue",
    Exclusion.CLAIMED: "another call from this caller is ringing the agent right now",
}

_QUEUE_WORDS = {
    QueueReason.NO_HISTORY: "no earlier conversation with this caller",
    QueueReason.WINDOW_EXPIRED: "the window has expired",
    QueueReason.TICKET_RESOLVED: "their last call's ticket is resolved, and its window is over",
    QueueReason.OUTAGE: "an outage is declared: stickiness steps aside until it ends",
    QueueReason.BUSY: "the agent is on another call",
    QueueReason.PAUSED: "the agent is paused in the queue",
    QueueReason.WRAP_UP: "the agent is still in wrap-up after their last call",
    QueueReason.OFFLINE: "the agent is not logged in to the queue",
    QueueReason.UNREACHABLE: "the agent's phone cannot be reached",
    QueueReason.ESCALATED_TO_QUEUE: "their last call was handed to a second-line queue",
    QueueReason.NO_ANSWER: "the agent did not answer within the ring timeout",
    QueueReason.REJECTED: "the agent rejected the call",
    QueueReason.CAP_REACHED: "the agent has reached the cap on sticky calls this hour",
    QueueReason.DO_NOT_PAIR: "the agent must not be paired with this caller",
    QueueReason.AMBIGUOUS_CALLER: "the number belongs to several customers",
    QueueReason.DB_TIMEOUT: "the database did not answer within its budget",
    QueueReason.DB_ERROR: "the database could not be reached",
    QueueReason.CALLER_ABANDONED: "the caller hung up",
    QueueReason.DISABLED: "sticky routing is switched off for this call",
    QueueReason.NO_CALLER_KEY: "the caller is anonymous and keyed nothing in the IVR",
    QueueReason.AGENT_INACTIVE: "the agent is disabled or has left the queue",
    QueueReason.ROUTER_ERROR: "the router hit an internal error",
}


def duration(seconds: float) -> str:
    """`42 s`, `6 min`, `3 h 5 min`: the way people say it, rounded down."""
    whole = max(0, int(seconds))
    if whole < 60:
        return f"{whole} s"
    minutes = whole // 60
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    return f"{hours // 24} days"


def candidate_reason(candidate: Candidate, now: datetime, window_minutes: int) -> str:
    name = candidate.agent.name
    if candidate.reason is CandidateReason.PERSONAL_MANAGER:
        return f"{name} is the customer's personal manager (no window applies)"
    if candidate.reason is CandidateReason.TICKET_OWNER:
        ticket = candidate.ticket
        about = f" {ticket.external_id}" if ticket else ""
        return f"{name} owns the open ticket{about}"
    ago = _ago(candidate, now)
    if candidate.reason is CandidateReason.ESCALATED_TO_SPECIALIST:
        return (
            f"the last call was handed to specialist {name}, ended {ago} ago, "
            f"window {window_minutes} min"
        )
    talk = duration(candidate.talk_seconds or 0)
    return f"last spoke with {name} for {talk}, ended {ago} ago, window {window_minutes} min"


def _ago(candidate: Candidate, now: datetime) -> str:
    if candidate.last_contact_ended_at is None:
        return "an unknown time"
    return duration((now - candidate.last_contact_ended_at).total_seconds())


def explain(decision: Decision) -> list[str]:
    """One line per fact the decision rests on, the verdict last."""
    context = decision.context
    call = context.call
    knobs = context.settings.values
    lines: list[str] = []

    key = context.key
    if key is None:
        lines.append("Caller key: none (anonymous or unparseable caller ID, nothing keyed).")
    else:
        lines.append(f"Caller key: {key.kind.value} {key.value} ({_KEY_SOURCE[key.kind]}).")
    identity = context.identity
    if identity.ambiguous:
        names = ", ".join(f"{c.name} ({c.class_name})" for c in identity.customers)
        lines.append(f"Shared number: candidate customers {names}; no ticket attached.")
    elif identity.customer is not None:
        customer = identity.customer
        account = f", account {customer.account_number}" if customer.account_number else ""
        lines.append(f"Customer: {customer.name} (class {customer.class_name}{account}).")
    elif key is not None:
        lines.append("Customer: not known.")
    if identity.ticket is not None:
        ticket = identity.ticket
        lines.append(f'Ticket: {ticket.external_id} "{ticket.subject}" ({ticket.status}).')

    announcement = "on" if knobs.announce else "off"
    lines.append(
        f"Settings: window {knobs.window_minutes} min, "
        f"ring timeout {knobs.ring_timeout_seconds} s, "
        f"busy wait {knobs.busy_wait_seconds} s, "
        f"minimum talk {knobs.min_talk_seconds} s, "
        f"announcement {announcement}, "
        f"fallback priority +{knobs.fallback_priority_boost}."
    )
    narrowed = sorted(
        f"{name} from {scope.value}"
        for name, scope in context.settings.sources.items()
        if scope.value not in ("default", "global")
    )
    if narrowed:
        lines.append("Narrower scopes in force: " + ", ".join(narrowed) + ".")

    for excluded in getattr(decision, "excluded", ()):
        agent = excluded.candidate.agent.name
        lines.append(f"Skipped {agent}: {_EXCLUSION_WORDS[excluded.exclusion]}.")

    if isinstance(decision, BlockedDecision):
        block = decision.block
        where = (
            f"queue {block.destination}"
            if block.destination_kind is BlockDestinationKind.QUEUE
            else f"the message {block.destination}"
        )
        until = f" until {block.expires_at:%Y-%m-%d %H:%M}" if block.expires_at else ""
        lines.append(f"Decision: the caller is under a block{until}: send to {where}, no agent.")
    elif isinstance(decision, QueueDecision):
        queue = decision.queue or call.queue
        lines.append(f"Decision: queue {queue}: {_queue_words(decision, call.at)}.")
    else:
        for position, candidate in enumerate(decision.candidates, start=1):
            why = candidate_reason(candidate, call.at, knobs.window_minutes)
            lines.append(f"Candidate {position}: {why}.")
        target = decision.target.agent.name
        lines.append(
            f"Decision: ring {target} first (for up to {knobs.ring_timeout_seconds} s); "
            f"on any miss, queue {decision.fallback_queue or call.queue}."
        )
    return lines


def _queue_words(decision: QueueDecision, now: datetime) -> str:
    words = _QUEUE_WORDS[decision.reason]
    last = decision.context.last_contact
    if decision.reason is QueueReason.NO_HISTORY:
        minimum = decision.context.settings.values.min_talk_seconds
        return f"no earlier conversation of at least {minimum} s with this caller"
    if decision.reason is QueueReason.WINDOW_EXPIRED and last is not None:
        window = decision.context.settings.values.window_minutes
        return f"{words}: {candidate_reason(last, now, window)}"
    return words
