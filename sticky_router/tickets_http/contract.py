"""The JSON contract of an HTTP ticket source, as pydantic models: every answer is checked here
before anything of it reaches the core.

Unknown fields are ignored (a source may say more than we read); a missing field, a wrong type, a
value too long, a time without its offset or a link that is not http(s) makes the whole answer
invalid: it is logged and counted by the caller and ignored, and the mirror keeps its last good
state. Strict mode: "5" is not a number and 5 is not a string.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from sticky_router.routing_core.tickets import (
    AGENT_LOGIN,
    CUSTOMER_REF,
    EXTERNAL_ID,
    CallReport,
    SourceCustomer,
    SourceTicket,
    TicketChange,
    TicketLookup,
    TicketStatus,
)

# Bounds on what we read: a lookup answers one caller, a sync page every open ticket.
MAX_LOOKUP_BYTES = 256 * 1024
MAX_TICKETS_BYTES = 32 * 1024 * 1024
MAX_LOOKUP_TICKETS = 50
MAX_SYNC_TICKETS = 50_000
MAX_PHONES = 20

ExternalId = Annotated[str, StringConstraints(pattern=EXTERNAL_ID)]
CustomerRef = Annotated[str, StringConstraints(pattern=CUSTOMER_REF)]
AgentLogin = Annotated[str, StringConstraints(pattern=AGENT_LOGIN)]
E164_PATTERN = r"^\+[1-9][0-9]{6,14}$"
E164 = Annotated[str, StringConstraints(pattern=E164_PATTERN)]
Link = Annotated[str, StringConstraints(pattern=r"^https?://[^\s\"'<>]{1,2000}$")]
Name = Annotated[str, StringConstraints(min_length=1, max_length=200)]
ShortText = Annotated[str, StringConstraints(min_length=1, max_length=64)]
Subject = Annotated[str, StringConstraints(min_length=1, max_length=500)]
Faults = Annotated[str, StringConstraints(min_length=1, max_length=2000)]


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)


class CustomerModel(_Strict):
    id: CustomerRef
    name: Name
    # `class` is a Python keyword: the JSON field is "class".
    class_name: ShortText | None = Field(None, alias="class")
    account: ShortText | None = None
    phones: list[E164] = Field(default_factory=list, max_length=MAX_PHONES)

    def to_core(self) -> SourceCustomer:
        return SourceCustomer(
            ref=self.id,
            name=self.name,
            class_name=self.class_name,
            account_number=self.account,
            phone_numbers=tuple(self.phones),
        )


class TicketModel(_Strict):
    id: ExternalId
    status: Literal["open", "pending", "resolved", "closed"]
    subject: Subject
    # JSON has no time type: an ISO 8601 string with its offset, parsed (strict mode would
    # refuse a string for a datetime, hence strict=False on times only).
    updated_at: AwareDatetime = Field(strict=False)
    owner: AgentLogin | None = None
    last_faults: Faults | None = None
    promised_by: AwareDatetime | None = Field(None, strict=False)
    link: Link | None = None

    def to_core(self) -> SourceTicket:
        return SourceTicket(
            external_id=self.id,
            status=TicketStatus(self.status),
            subject=self.subject,
            updated_at=self.updated_at,
            owner_login=self.owner,
            last_faults=self.last_faults,
            promised_by=self.promised_by,
            link=self.link,
        )


class LookupAnswer(_Strict):
    """GET <base>/lookup?kind=number|account|ticket&value=..."""

    customer: CustomerModel | None
    tickets: list[TicketModel] = Field(max_length=MAX_LOOKUP_TICKETS)

    def to_core(self) -> TicketLookup:
        return TicketLookup(
            customer=self.customer.to_core() if self.customer else None,
            tickets=tuple(t.to_core() for t in self.tickets if TicketStatus(t.status).is_open),
        )


class SyncedTicketModel(TicketModel):
    customer: CustomerModel


class TicketsAnswer(_Strict):
    """GET <base>/tickets[?updated_since=...]"""

    tickets: list[SyncedTicketModel] = Field(max_length=MAX_SYNC_TICKETS)

    def to_core(self) -> list[TicketChange]:
        return [TicketChange(t.to_core(), t.customer.to_core()) for t in self.tickets]


class CallEnded(_Strict):
    """POST <base>/calls: the call-ended webhook's body. The receiver records it once per
    `call_id` and answers 2xx (or 409) to a repeat."""

    call_id: Annotated[str, StringConstraints(min_length=1, max_length=128)]
    caller_number: E164 | None = None
    ticket: ExternalId | None = None
    agent: AgentLogin | None = None
    started_at: AwareDatetime = Field(strict=False)
    answered_at: AwareDatetime | None = Field(None, strict=False)
    ended_at: AwareDatetime = Field(strict=False)
    route: Literal["sticky", "queue", "blocked"] | None = None
    reason: ShortText | None = None
    note: Annotated[str, StringConstraints(max_length=2000)] | None = None


def _kept(value: str | None, pattern: str) -> str | None:
    """An optional value the contract cannot carry (a built-in ticket number with a space, a
    withheld number) is left out rather than failing the whole report."""
    return value if value is not None and re.fullmatch(pattern, value) else None


def call_report_body(report: CallReport) -> dict[str, object]:
    """The webhook's JSON body for a finished call (checked against the contract on the way)."""
    route = report.route if report.route in ("sticky", "queue", "blocked") else None
    body = CallEnded(
        call_id=report.call_id,
        caller_number=_kept(report.caller_number, E164_PATTERN),
        ticket=_kept(report.ticket, EXTERNAL_ID),
        agent=_kept(report.agent_login, AGENT_LOGIN),
        started_at=report.started_at,
        answered_at=report.answered_at,
        ended_at=report.ended_at,
        route=route,  # type: ignore[arg-type]  # checked just above
        reason=report.reason[:64] if report.reason else None,
        note=report.note[:2000] if report.note else None,
    )
    return body.model_dump(mode="json")
