"""The channel variables the router leaves on a call for the dialplan and whoever answers.

Ids and codes only: the ticket's text and the customer's name stay in PostgreSQL (the agent
screen looks them up by call id), so nothing personal sits in Asterisk's memory or CDRs, and
nothing about the ticket can ever be played to the caller by mistake. The one exception is
STICKY_CALLERID_NAME, only when the routing setting `callerid_name_prefix` asks for it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from urllib.parse import quote

from sticky_router.routing_core.callerid import callerid_name
from sticky_router.routing_core.decision import (
    BlockedDecision,
    Candidate,
    Decision,
    QueueDecision,
    StickyDecision,
    destination_queue,
)
from sticky_router.routing_core.dialplan_safe import (
    bounded,
    is_endpoint,
    is_language,
    is_queue,
    is_sound,
    through_node,
)
from sticky_router.routing_core.model import Identity

# A number shared by thousands of customers must not make a channel variable longer than the AGI
# line Asterisk reads (measured on 22.10: 2.7 KB passes, 15 KB is cut and read as a broken
# command): the ids of the first ones, and how many there are.
MAX_CUSTOMER_IDS = 20

# The variables reach a call through ARI in one request: ARI sets one variable per request, and
# Asterisk handles them one after the other on the channel (measured on 22.10: 15 of them took
# 35 ms before the agent's phone could ring). STICKY_PACK is `plain|coded`, and the dialplan's
# sticky-unpack sets each variable as __NAME (inheritable, so Queue() and Dial() hand them to the
# agent's channel). Plain: values of letters, digits and _ . ~ / @ : + - only (ids, codes,
# PJSIP/agent2), as __NAME=value pairs joined by `,`, set by one MSet() step; none of those
# characters splits MSet()'s arguments or starts an expression. Coded: the other values,
# NAME=value pairs joined by `&`, each value URI-encoded, one pass of sticky-unpack's loop each
# (six dialplan steps, each a channel snapshot in Asterisk); URI encoding leaves no `&`, `,`,
# `$`, `(` or `)` in a value, and Set() keeps what URIDECODE gives back as it is (measured and
# tested, tests/sandbox/test_unpack.py: a value with `, ( ) ${EXTEN} $[1+1] & | ; "` arrives
# unchanged and unevaluated, on the agent's channel too).
PACK = "STICKY_PACK"
MAX_PACK_CHARS = 3000  # well inside the request line Asterisk's HTTP server reads
_NAME = re.compile(r"[A-Z][A-Z0-9_]{0,39}")
_PLAIN = re.compile(r"[A-Za-z0-9_.~/@:+-]+")


def pack(variables: Mapping[str, str]) -> str:
    """The variables with a value, as sticky-unpack reads them: `plain|coded` (the plain ones
    as __NAME=value for MSet(), the others NAME=URI-encoded value), or "" when none has a value.
    ValueError for a name that is not one of ours in shape (the dialplan would set whatever
    name it found)."""
    for name in variables:
        if not _NAME.fullmatch(name):
            raise ValueError(f"not a variable name the router sets: {name!r}")
    given = [(name, value) for name, value in variables.items() if value]
    if not given:
        return ""
    plain = ",".join(f"__{name}={value}" for name, value in given if _PLAIN.fullmatch(value))
    coded = "&".join(
        f"{name}={quote(value, safe='')}" for name, value in given if not _PLAIN.fullmatch(value)
    )
    return f"{plain}|{coded}"


def handed_over(variables: Mapping[str, str]) -> dict[str, str]:
    """What the ARI application sets on the caller's channel so the dialplan finds `variables`
    as __NAME (inheritable: Queue() and Dial() copy them to the agent's channel, for its
    screen): one packed variable, one ARI request. A pack too long for one request line goes
    as one request per variable, with the pack cleared (an earlier hand-over's pack would
    otherwise be unpacked over them). An empty value is not sent: on a new call it is unset."""
    packed = pack(variables)
    if len(packed) <= MAX_PACK_CHARS:
        return {PACK: packed}
    return {PACK: "", **{f"__{name}": value for name, value in variables.items() if value}}


def fallback_variables(decision: Decision, reason: str) -> dict[str, str]:
    """What the queue context reads when a call reaches it from the router."""
    context = decision.context
    knobs = context.settings.values
    identity = context.identity
    variables = {
        "STICKY_CALL_ID": context.call.call_id,
        "STICKY_ROUTE": decision.route.value,
        "STICKY_REASON": reason,
        "STICKY_KEY_KIND": context.key.kind.value if context.key else "",
        "STICKY_CUSTOMERS": ",".join(str(c.id) for c in identity.customers[:MAX_CUSTOMER_IDS]),
        "STICKY_CUSTOMER_COUNT": str(len(identity.customers)),
        "TICKET_ID": identity.ticket.external_id if identity.ticket else "",
        # Every prompt from here on in the caller's language (sticky-language): the one
        # customer's, never a guess for a number several customers share.
        "STICKY_LANGUAGE": caller_language(identity),
        # A declared outage's notice, played once before routing (sticky-outage).
        "STICKY_OUTAGE_SOUND": outage_sound(decision),
        "STICKY_PRIORITY": str(queue_priority(decision)),
    }
    if knobs.callerid_name_prefix:
        # The one exception to "ids only", asked for by the setting: sticky-queue shows it as
        # the caller's name on the agents' phones (never to the caller).
        variables["STICKY_CALLERID_NAME"] = callerid_name(identity)
    if isinstance(decision, StickyDecision):
        variables["STICKY_TARGET"] = decision.target.agent.name
    queue = destination_queue(decision)
    if queue and is_queue(queue):  # second line (a missed or queued escalation), a block's queue
        variables["QUEUE_NAME"] = queue
    if isinstance(decision, BlockedDecision):
        destination = decision.block.destination
        kind = decision.block.destination_kind.value
        safe = is_queue(destination) if kind == "queue" else is_sound(destination)
        variables["STICKY_BLOCK_KIND"] = kind
        variables["STICKY_BLOCK_DESTINATION"] = destination if safe else ""
    return {name: bounded(value) for name, value in variables.items()}


def queue_priority(decision: Decision) -> int:
    """How far ahead the caller enters the queue: a missed sticky attempt may jump it, and so
    may a caller we owe a promised call; a plain first call keeps its place."""
    knobs = decision.context.settings.values
    missed = knobs.fallback_priority_boost if isinstance(decision, StickyDecision) else 0
    ticket = decision.context.identity.ticket
    overdue = (
        ticket is not None
        and ticket.promised_by is not None
        and ticket.status in ("open", "pending")
        and ticket.promised_by < decision.context.call.at
    )
    return max(missed, knobs.overdue_promise_priority_boost if overdue else 0)


def outage_sound(decision: Decision) -> str:
    incident = decision.context.incident
    sound = incident.announce_sound if incident is not None else None
    return sound if sound and is_sound(sound) else ""


def caller_language(identity: Identity) -> str:
    if len(identity.customers) != 1:
        return ""
    language = identity.customers[0].language or ""
    return language if is_language(language) else ""


def queue_reason(decision: Decision) -> str:
    if isinstance(decision, QueueDecision):
        return decision.reason.value
    if isinstance(decision, BlockedDecision):
        return "blocked"
    return decision.target.reason.value


def attempt_variables(
    decision: Decision, chosen: Candidate | None = None, on_node: str | None = None
) -> dict[str, str]:
    """The queue's variables plus what the dialplan needs to ring the target itself (context
    sticky-ring in ARI mode, sticky-agi-inbound in AGI mode): the first candidate, or the one
    the candidate walk `chosen`. `on_node`: the chosen agent is logged in on that other node of
    the line, and is rung through its trunk (PJSIP/agent2@node-a)."""
    knobs = decision.context.settings.values
    variables = fallback_variables(decision, queue_reason(decision))
    if isinstance(decision, StickyDecision):
        chosen = chosen or decision.target
        variables["STICKY_REASON"] = chosen.reason.value
    target = chosen.agent if chosen is not None else None
    dial = target.endpoint if target is not None else ""
    if target is not None and on_node is not None:
        dial = through_node(target.endpoint, on_node) or ""
    if target is not None and not is_endpoint(dial):
        # Nothing to dial safely: the queue, as for an agent whose phone cannot be reached.
        variables.update(STICKY_ROUTE="queue", STICKY_REASON="unreachable")
        target = None
    variables.update(
        {
            "STICKY_TARGET": target.name if target else "",
            "STICKY_TARGET_ENDPOINT": dial if target else "",
            "STICKY_RING_TIMEOUT": str(knobs.ring_timeout_seconds),
            # Never promise what may not happen: the prompt only when an agent is to be rung.
            "STICKY_ANNOUNCE": "1" if target and knobs.announce else "0",
            "STICKY_ANNOUNCE_SOUND": knobs.announce_sound,
        }
    )
    return {name: bounded(value) for name, value in variables.items()}
