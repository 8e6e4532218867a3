"""From the AGI request to the core's call, and from the core's decision to channel variables."""

from __future__ import annotations

from datetime import datetime

from agi.protocol import AgiRequest, AgiSession
from routing_core import IncomingCall

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


async def set_variables(session: AgiSession, variables: dict[str, str]) -> None:
    """Inheritable (`__NAME`), so the agent's channel that Queue() connects carries them too.
    STICKY_ROUTE goes last: a conversation cut half-way leaves the dialplan's `queue`."""
    route = variables.get("STICKY_ROUTE")
    for name, value in variables.items():
        if name != "STICKY_ROUTE":
            await session.set_variable(f"__{name}", value)
    if route is not None:
        await session.set_variable("__STICKY_ROUTE", route)
