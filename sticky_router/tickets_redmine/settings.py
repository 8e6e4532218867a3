"""How a deployment's Redmine is read: where it is, whose key, which custom fields mean what."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class RedmineFields:
    """Issue custom fields by name (as Redmine's admin pages show them); None: not used."""

    phone: str = "Phone"  # one or several numbers (comma, semicolon or new line between them)
    account: str | None = "Account"
    customer: str | None = "Customer"  # the subscriber's name, for the pop
    customer_class: str | None = "Customer class"
    last_faults: str | None = "Last faults"
    promised_by: str | None = None  # a date field; None: the issue's own due date


@dataclass(frozen=True)
class RedmineSettings:
    url: str  # the REST API's base, e.g. https://redmine.isp.local
    api_key: str  # an administrator's key: logins and custom field ids need admin rights
    public_url: str | None = None  # what agents open issues at, when it differs from `url`
    project: str | None = None  # only this project (and its subprojects); None: all visible
    fields: RedmineFields = field(default_factory=RedmineFields)
    pending_statuses: frozenset[str] = frozenset({"Feedback"})  # open, waiting on the customer
    resolved_statuses: frozenset[str] = frozenset({"Resolved"})  # not closed, but not open work
    default_region: str = "RU"  # how a number written without its country code is read
    write_as_agent: bool = True  # notes authored by the agent's Redmine user when one exists
    timeout_seconds: float = 2.0
    sync_timeout_seconds: float = 30.0

    def __repr__(self) -> str:  # the key is a secret: never in a repr or a log
        return f"RedmineSettings(url={self.url!r}, project={self.project!r})"

    @property
    def link_base(self) -> str:
        return (self.public_url or self.url).rstrip("/")
