"""The channel variables the router leaves on a call for the dialplan and whoever answers.

Ids and codes only: the ticket's text and the customer's name stay in PostgreSQL (the agent
screen looks them up by call id), so nothing personal sits in Asterisk's memory or CDRs, and
nothing about the ticket can ever be played to the caller by mistake. The one exception is
STICKY_CALLERID_NAME, only when the routing setting `callerid_name_prefix` asks for it.
"""

from __future__ import annotations

from routing_core import BlockedDecision, Decision, QueueDecision, StickyDecision
from routing_core.callerid import callerid_name


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
        "STICKY_CUSTOMERS": ",".join(str(c.id) for c in identity.customers),
        "TICKET_ID": identity.ticket.external_id if identity.ticket else "",
        # A missed sticky attempt may jump the queue; a plain first call keeps its place.
        "STICKY_PRIORITY": str(knobs.fallback_priority_boost)
        if isinstance(decision, StickyDecision)
        else "0",
    }
    if knobs.callerid_name_prefix:
        # The one exception to "ids only", asked for by the setting: sticky-queue shows it as
        # the caller's name on the agents' phones (never to the caller).
        variables["STICKY_CALLERID_NAME"] = callerid_name(identity)
    if isinstance(decision, StickyDecision):
        variables["STICKY_TARGET"] = decision.target.agent.name
    if isinstance(decision, BlockedDecision):
        variables["STICKY_BLOCK_KIND"] = decision.block.destination_kind.value
        variables["STICKY_BLOCK_DESTINATION"] = decision.block.destination
    return variables


def queue_reason(decision: Decision) -> str:
    if isinstance(decision, QueueDecision):
        return decision.reason.value
    if isinstance(decision, BlockedDecision):
        return "blocked"
    return decision.target.reason.value
