"""Redmine's JSON as we read it (REST API of Redmine 5), checked before anything is believed.

Unknown fields are ignored; bounds are generous (Redmine's own limits) and the mapping trims to the
core's. A page that is not this shape makes the whole answer invalid.
"""

from __future__ import annotations

from datetime import date

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

# A page of issues is at most 100 (Redmine's own cap on `limit`); a lookup reads one page.
PAGE_SIZE = 100
MAX_PAGE_BYTES = 8 * 1024 * 1024
MAX_ISSUE_BYTES = 4 * 1024 * 1024  # one issue with all its journals


class _Answer(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Named(_Answer):
    id: int = Field(ge=1)
    name: str = Field(max_length=1000)


class Status(Named):
    is_closed: bool = False


class CustomValue(_Answer):
    id: int = Field(ge=1)
    name: str = Field(max_length=1000)
    # A multiple-value field gives a list.
    value: str | list[str] | None = None


class Issue(_Answer):
    id: int = Field(ge=1)
    project: Named
    status: Status
    subject: str = Field(max_length=10_000)
    assigned_to: Named | None = None
    due_date: date | None = None
    custom_fields: list[CustomValue] = Field(default_factory=list, max_length=500)
    updated_on: AwareDatetime


class IssuePage(_Answer):
    issues: list[Issue] = Field(max_length=PAGE_SIZE)
    total_count: int = Field(ge=0)


class IssueAnswer(_Answer):
    issue: Issue


class Journal(_Answer):
    id: int
    notes: str | None = None


class IssueJournals(_Answer):
    id: int
    journals: list[Journal] = Field(default_factory=list)


class IssueJournalsAnswer(_Answer):
    issue: IssueJournals


class User(_Answer):
    id: int = Field(ge=1)
    login: str = Field(max_length=1000)


class UserPage(_Answer):
    users: list[User] = Field(max_length=PAGE_SIZE)
    total_count: int = Field(ge=0)


class CustomFieldDefinition(_Answer):
    id: int = Field(ge=1)
    name: str = Field(max_length=1000)
    customized_type: str
    is_filter: bool = False


class CustomFieldList(_Answer):
    custom_fields: list[CustomFieldDefinition] = Field(max_length=10_000)
