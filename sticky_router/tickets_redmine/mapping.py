"""A Redmine issue as the core's records: status, owner, the customer's keys, faults, promise.

Redmine has no customers: the subscriber is whoever the issue's custom fields name (account,
phone numbers, name, class), as ISPs running Redmine record them. Values are trimmed to the core's
bounds here; a value that cannot be one of them (an account with spaces, an unparseable number)
is left out rather than failing the whole sync.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta

from sticky_router.routing_core.caller_key import normalise_number
from sticky_router.routing_core.tickets import (
    AGENT_LOGIN,
    CUSTOMER_REF,
    SourceCustomer,
    SourceTicket,
    TicketChange,
    TicketStatus,
)
from sticky_router.tickets_redmine.answers import Issue
from sticky_router.tickets_redmine.settings import RedmineSettings

MAX_SUBJECT = 500
MAX_FAULTS = 2000
MAX_NAME = 200
MAX_SHORT = 64
MAX_PHONES = 20
_NUMBER_SEPARATORS = re.compile(r"[,;\n/]+")
_AGENT_LOGIN = re.compile(AGENT_LOGIN)
_CUSTOMER_REF = re.compile(CUSTOMER_REF)


def field_value(issue: Issue, name: str | None) -> str | None:
    """A custom field's text by name, None when absent or empty (a list is joined)."""
    if name is None:
        return None
    for custom in issue.custom_fields:
        if custom.name == name:
            value = ", ".join(custom.value) if isinstance(custom.value, list) else custom.value
            text = (value or "").strip()
            return text or None
    return None


def phone_numbers(raw: str | None, region: str) -> tuple[str, ...]:
    """Every number a phone field holds, in E.164, each once; unreadable parts are skipped."""
    if raw is None:
        return ()
    numbers: list[str] = []
    for part in _NUMBER_SEPARATORS.split(raw):
        number = normalise_number(part, region)
        if number is not None and number not in numbers:
            numbers.append(number)
    return tuple(numbers[:MAX_PHONES])


def status_of(issue: Issue, settings: RedmineSettings) -> TicketStatus:
    if issue.status.is_closed:
        return TicketStatus.CLOSED
    if issue.status.name in settings.pending_statuses:
        return TicketStatus.PENDING
    if issue.status.name in settings.resolved_statuses:
        return TicketStatus.RESOLVED
    return TicketStatus.OPEN


def customer_of(issue: Issue, settings: RedmineSettings) -> SourceCustomer:
    fields = settings.fields
    account = _short(field_value(issue, fields.account))
    phones = phone_numbers(field_value(issue, fields.phone), settings.default_region)
    if account is not None and _CUSTOMER_REF.fullmatch(f"account:{account}"):
        ref = f"account:{account}"
    elif phones:
        ref = f"phone:{phones[0].lstrip('+')}"
    else:  # nobody to recognise by: the issue stands alone
        ref = f"issue:{issue.id}"
    name = field_value(issue, fields.customer) or account or (phones[0] if phones else "")
    return SourceCustomer(
        ref=ref,
        name=(name or f"Redmine issue {issue.id}")[:MAX_NAME],
        class_name=_short(field_value(issue, fields.customer_class)),
        account_number=account,
        phone_numbers=phones,
    )


def ticket_of(issue: Issue, settings: RedmineSettings, logins: Mapping[int, str]) -> SourceTicket:
    owner = logins.get(issue.assigned_to.id) if issue.assigned_to is not None else None
    faults = field_value(issue, settings.fields.last_faults)
    return SourceTicket(
        external_id=str(issue.id),
        status=status_of(issue, settings),
        subject=issue.subject.strip()[:MAX_SUBJECT] or f"Redmine issue {issue.id}",
        updated_at=issue.updated_on,
        owner_login=owner if owner is not None and _AGENT_LOGIN.fullmatch(owner) else None,
        last_faults=faults[:MAX_FAULTS] if faults else None,
        promised_by=_promised_by(issue, settings),
        link=f"{settings.link_base}/issues/{issue.id}",
    )


def change_of(issue: Issue, settings: RedmineSettings, logins: Mapping[int, str]) -> TicketChange:
    return TicketChange(ticket_of(issue, settings, logins), customer_of(issue, settings))


def _promised_by(issue: Issue, settings: RedmineSettings) -> datetime | None:
    name = settings.fields.promised_by
    day: date | None
    if name is None:
        day = issue.due_date
    else:
        try:
            day = date.fromisoformat(field_value(issue, name) or "")
        except ValueError:
            day = None
    # A date promises the whole day: the promise runs out when the day (in UTC) is over.
    return None if day is None else datetime.combine(day + timedelta(days=1), time(), UTC)


def _short(value: str | None) -> str | None:
    return value[:MAX_SHORT] if value else None
