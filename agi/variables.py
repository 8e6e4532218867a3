"""From the AGI request to the core's call, and from the core's decision to channel variables."""

from __future__ import annotations

from datetime import datetime

from agi.protocol import AgiRequest, AgiSession
from ari_app.channel_vars import fallback_variables, queue_reason
from routing_core import BlockedDecision, Decision, IncomingCall, StickyDecision
from routing_core.model import BlockDestinationKind

DEFAULT_QUEUE = "support"


def present(value: str) -> str | None:
    """Asterisk writes `unknown` for an absent caller ID or DNID."""
    value = value.strip()
    return None if not value or value.lower() == "unknown" else value


def incoming_call(request: AgiRequest, at: datetime) -> IncomingCall:
    """AGI(agi://router/lookup,queue,did,ivr account,ivr ticket): the Stasis() arguments."""
    return IncomingCall(
        call_id=request.get("uniqueid"),
        caller_id=present(request.get("callerid")),
        at=at,
        queue=present(request.arg(1)) or DEFAULT_QUEUE,
        did=present(request.arg(2)) or present(request.get("dnid")),
        ivr_account=present(request.arg(3)),
        ivr_ticket=present(request.arg(4)),
    )


def decision_variables(decision: Decision) -> dict[str, str]:
    """The queue's context variables (the same as in ARI mode) plus what the dialplan needs to
    ring the target itself."""
    knobs = decision.context.settings.values
    variables = fallback_variables(decision, queue_reason(decision))
    target = decision.target.agent if isinstance(decision, StickyDecision) else None
    variables.update(
        {
            "STICKY_TARGET": target.name if target else "",
            "STICKY_TARGET_ENDPOINT": target.endpoint if target else "",
            "STICKY_RING_TIMEOUT": str(knobs.ring_timeout_seconds),
            "STICKY_BUSY_WAIT": str(knobs.busy_wait_seconds),
            # Never promise what may not happen: the prompt only when an agent is to be rung.
            "STICKY_ANNOUNCE": "1" if target and knobs.announce else "0",
            "STICKY_ANNOUNCE_SOUND": knobs.announce_sound,
        }
    )
    if (
        isinstance(decision, BlockedDecision)
        and decision.block.destination_kind is BlockDestinationKind.QUEUE
    ):
        variables["QUEUE_NAME"] = decision.block.destination
    return variables


async def set_variables(session: AgiSession, variables: dict[str, str]) -> None:
    """Inheritable (`__NAME`), so the agent's channel that Queue() connects carries them too.
    STICKY_ROUTE goes last: a conversation cut half-way leaves the dialplan's `queue`."""
    route = variables.get("STICKY_ROUTE")
    for name, value in variables.items():
        if name != "STICKY_ROUTE":
            await session.set_variable(f"__{name}", value)
    if route is not None:
        await session.set_variable("__STICKY_ROUTE", route)
