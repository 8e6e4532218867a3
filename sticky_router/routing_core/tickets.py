"""Where tickets come from: the ticket system support already uses, behind one interface.

A deployment keeps its tickets in the product's own tables (the built-in source) or in a system
of its own (a CRM, billing, a helpdesk) reached through an adapter such as `tickets_http`. The
core only knows this Protocol and these frozen records; no HTTP lives here.

The decision never waits for a source: a background runner (`routing_core.ticket_sync`) copies
owner and status of open tickets into a local mirror, and the lookup reads the mirror. What a
source says is checked by its adapter before it becomes one of these records, so everything
here is already bounded and well-formed.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from sticky_router.routing_core.model import CallerKey

BUILTIN_SOURCE = "builtin"

# What an external id may look like: what a caller can key in an IVR (a ticket number, an
# account), so it can also travel as the TICKET_ID channel variable without escaping.
EXTERNAL_ID = r"^[0-9A-Za-z_-]{1,32}$"
# A customer's id in the source: opaque to us, but bounded and printable.
CUSTOMER_REF = r"^[0-9A-Za-z_.:-]{1,64}$"
# An agent's login, matched to `agents.name`.
AGENT_LOGIN = r"^[A-Za-z0-9_.@-]{1,64}$"  # an e-mail login simply matches no agent
_EXTERNAL_ID = re.compile(EXTERNAL_ID)


def is_external_id(value: str) -> bool:
    return bool(_EXTERNAL_ID.fullmatch(value))


class TicketStatus(StrEnum):
    """The product's statuses; a source maps its own onto these (open and pending are open)."""

    OPEN = "open"
    PENDING = "pending"
    RESOLVED = "resolved"
    CLOSED = "closed"

    @property
    def is_open(self) -> bool:
        return self in (TicketStatus.OPEN, TicketStatus.PENDING)


@dataclass(frozen=True, slots=True)
class SourceCustomer:
    """A customer as the source knows them. `ref` is the source's own id."""

    ref: str
    name: str
    class_name: str | None = None
    account_number: str | None = None
    phone_numbers: tuple[str, ...] = ()  # E.164, as the caller key has them


@dataclass(frozen=True, slots=True)
class SourceTicket:
    external_id: str
    status: TicketStatus
    subject: str
    updated_at: datetime
    owner_login: str | None = None  # the agent's login, matched to agents.name
    last_faults: str | None = None
    promised_by: datetime | None = None
    link: str | None = None  # where an agent opens it in the source's own pages


@dataclass(frozen=True, slots=True)
class TicketLookup:
    """The answer to "who is this and what is open for them"; both empty when nobody matched."""

    customer: SourceCustomer | None = None
    tickets: tuple[SourceTicket, ...] = ()


@dataclass(frozen=True, slots=True)
class TicketChange:
    """One ticket as it is now, with the keys its customer is found by: what the mirror keeps."""

    ticket: SourceTicket
    customer: SourceCustomer


@dataclass(frozen=True, slots=True)
class CallReport:
    """A finished call, told to the source once per call id ("record this call on the ticket")."""

    call_id: str
    started_at: datetime
    ended_at: datetime
    route: str | None
    reason: str | None
    caller_number: str | None = None
    ticket: str | None = None  # the ticket's external id
    agent_login: str | None = None  # the agent who talked last
    answered_at: datetime | None = None
    note: str | None = None


class SourceFailure(StrEnum):
    """Why a source did not answer usefully: a closed set, so it can be a metric label."""

    UNAVAILABLE = "unavailable"  # refused, reset, DNS, HTTP 5xx
    TIMEOUT = "timeout"
    INVALID = "invalid"  # an answer that is not the contract: wrong types, too big, not JSON
    REFUSED = "refused"  # HTTP 4xx: our request or our token is wrong


class TicketSourceError(Exception):
    """A source failed; the message never carries a token, a number or a customer's name."""

    def __init__(self, failure: SourceFailure, detail: str) -> None:
        super().__init__(f"{failure.value}: {detail}")
        self.failure = failure
        self.detail = detail


class TicketSource(Protocol):
    """What the product asks of a ticket system. Every method may raise TicketSourceError."""

    @property
    def name(self) -> str:
        """The source's name in the mirror and in metrics (`builtin`, `http`)."""

    async def lookup(self, key: CallerKey) -> TicketLookup:
        """The customer a phone number, account or ticket number names, with open tickets."""

    async def changes_since(self, since: datetime | None) -> Sequence[TicketChange]:
        """Tickets updated after `since`, closed ones included (so the mirror drops them);
        `since=None`: every open ticket (a full resync)."""

    async def record_call(self, report: CallReport) -> None:
        """Record a finished call on the ticket. Idempotent per call id: a second report of the
        same call changes nothing."""


class TicketObserver(Protocol):
    """What the mirror and the call reports tell whoever counts (the Prometheus metrics)."""

    def ticket_source_failed(self, source: str, operation: str, failure: str) -> None: ...

    def ticket_mirror_synced(self, source: str, full: bool, tickets: int) -> None: ...

    def ticket_mirror_fresh(self, source: str, synced_at: datetime) -> None:
        """Another process synced the shared mirror at `synced_at`: as fresh as that."""

    def ticket_call_reported(self, source: str, outcome: str) -> None: ...
