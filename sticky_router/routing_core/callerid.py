"""The caller-ID name an agent's phone shows when the setting `callerid_name_prefix` is on.

For agents without a screen: `[T-1001] Ivan Petrov` (the ticket's id, then the caller's name),
`Ivan Petrov` with no ticket, `[?]` when the caller is unknown or the number is shared by several
customers (never one customer's name as if it were certain). It goes to the agent's phone only,
as the display name of the call; nothing here is ever played or shown to the caller.
"""

from __future__ import annotations

import unicodedata

from sticky_router.routing_core.model import Identity

UNKNOWN = "[?]"
MAX_LENGTH = 40  # what desk phones show on one or two lines; SIP itself would take more


def callerid_name(identity: Identity) -> str:
    customer = identity.customer
    ticket = identity.ticket if customer is not None else None
    name = _clean(customer.name) if customer is not None else ""
    if ticket is not None:
        label = f"[{_clean(ticket.external_id)}] {name}".strip()
    else:
        label = name or UNKNOWN
    return label[:MAX_LENGTH].rstrip()


def _clean(text: str) -> str:
    """No quotes, backslashes or control characters: the name becomes a SIP display name."""
    kept = (
        " " if unicodedata.category(ch).startswith("C") else ch for ch in text if ch not in '"\\'
    )
    return " ".join("".join(kept).split())
