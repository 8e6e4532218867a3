"""`RedmineTicketSource`: the core's TicketSource over Redmine's REST API.

- The mirror: `changes_since(None)` pages through every open issue, `changes_since(t)` through
  issues of any status updated since `t` (a closed one tells the mirror to drop it).
- The pop: `lookup` finds open issues by issue number, by the account field (`cf_N=value`) or by
  the phone field (`cf_N=~digits`, then every number the field holds is compared in E.164).
- After a call: `record_call` adds a journal note on the issue the call was routed with, as the
  agent's own Redmine user when there is one (`X-Redmine-Switch-User`), once per call id.

Assignees become logins through /users.json and custom field names become ids through
/custom_fields.json: both need the key of a Redmine administrator. Every request has a hard
timeout, follows no redirect (it would carry the key elsewhere) and reads a bounded answer; the
key travels in the X-Redmine-API-Key header only, never in a URL or an error.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta

import aiohttp
import phonenumbers

from sticky_router.routing_core.model import CallerKey, KeyKind
from sticky_router.routing_core.tickets import (
    CallReport,
    SourceFailure,
    TicketChange,
    TicketLookup,
    TicketSourceError,
)
from sticky_router.ticket_transport.http import JsonHttp, SourceFailures, check_status
from sticky_router.tickets_redmine.answers import (
    MAX_ISSUE_BYTES,
    MAX_PAGE_BYTES,
    PAGE_SIZE,
    CustomFieldDefinition,
    CustomFieldList,
    Issue,
    IssueAnswer,
    IssueJournalsAnswer,
    IssuePage,
    UserPage,
)
from sticky_router.tickets_redmine.call_note import marker, note_text
from sticky_router.tickets_redmine.mapping import change_of, field_value, phone_numbers
from sticky_router.tickets_redmine.settings import RedmineSettings

SOURCE_NAME = "redmine"
MAX_SYNC_ISSUES = 50_000
MAX_USERS = 20_000
LOOKUP_TICKETS = 25
LOGINS_RELOAD_SECONDS = 60.0
_ISSUE_NUMBER = re.compile(r"^#?([0-9]{1,9})$")


class RedmineTicketSource:
    def __init__(self, settings: RedmineSettings) -> None:
        self._settings = settings
        self._http = JsonHttp(
            settings.url, {"Accept": "application/json", "X-Redmine-API-Key": settings.api_key}
        )
        self._timeout = aiohttp.ClientTimeout(total=settings.timeout_seconds)
        self._sync_timeout = aiohttp.ClientTimeout(total=settings.sync_timeout_seconds)
        self._logins: dict[int, str] = {}
        self._logins_loaded = -LOGINS_RELOAD_SECONDS
        self._fields: dict[str, CustomFieldDefinition] | None = None

    def __repr__(self) -> str:  # the headers hold the key: never in a repr
        return f"RedmineTicketSource({self._http.base!r})"

    @property
    def name(self) -> str:
        return SOURCE_NAME

    async def close(self) -> None:
        await self._http.close()

    # The mirror

    async def changes_since(self, since: datetime | None) -> Sequence[TicketChange]:
        params = {"sort": "updated_on,id"}
        if since is None:
            params["status_id"] = "open"
            await self._refresh_logins()  # a full resync also learns renamed and new users
        else:
            params["status_id"] = "*"
            # Whole seconds in UTC, as Redmine's filter reads them; one second early, since a
            # second's fraction is lost.
            moment = (since.astimezone(UTC) - timedelta(seconds=1)).replace(microsecond=0)
            params["updated_on"] = ">=" + moment.strftime("%Y-%m-%dT%H:%M:%SZ")
        issues = await self._all_issues(params)
        await self._know_assignees(issues)
        return [change_of(issue, self._settings, self._logins) for issue in issues]

    async def _know_assignees(self, issues: Sequence[Issue]) -> None:
        """Logins for every assignee; an unknown one (a new user, or a group, which has no
        login) reloads the users at most once a minute."""
        unknown = any(i.assigned_to and i.assigned_to.id not in self._logins for i in issues)
        if unknown and time.monotonic() - self._logins_loaded >= LOGINS_RELOAD_SECONDS:
            await self._refresh_logins()

    async def _all_issues(self, params: Mapping[str, str]) -> list[Issue]:
        issues: list[Issue] = []
        async with asyncio.timeout(self._settings.sync_timeout_seconds):
            while True:
                page = await self._http.get(
                    "issues.json",
                    {**self._scope(), **params, "offset": str(len(issues)),
                     "limit": str(PAGE_SIZE)},
                    IssuePage, MAX_PAGE_BYTES, self._sync_timeout,
                )  # fmt: skip
                issues += page.issues
                if len(issues) > MAX_SYNC_ISSUES:
                    raise TicketSourceError(
                        SourceFailure.INVALID, f"issues.json: over {MAX_SYNC_ISSUES} issues"
                    )
                if not page.issues or len(issues) >= page.total_count:
                    return issues

    async def _refresh_logins(self) -> None:
        logins: dict[int, str] = {}
        async with asyncio.timeout(self._settings.sync_timeout_seconds):
            while True:
                # `status=` (empty): locked users too, so a locked agent's issues keep an owner.
                page = await self._http.get(
                    "users.json",
                    {"status": "", "offset": str(len(logins)), "limit": str(PAGE_SIZE)},
                    UserPage, MAX_PAGE_BYTES, self._sync_timeout,
                )  # fmt: skip
                logins |= {user.id: user.login for user in page.users}
                if not page.users or len(logins) >= min(page.total_count, MAX_USERS):
                    break
        self._logins = logins
        self._logins_loaded = time.monotonic()

    # The pop

    async def lookup(self, key: CallerKey) -> TicketLookup:
        if key.kind is KeyKind.TICKET:
            issues = await self._issue_by_number(key.value)
        elif key.kind is KeyKind.ACCOUNT:
            if self._settings.fields.account is None:
                return TicketLookup()
            field = await self._field_id(self._settings.fields.account)
            issues = await self._open_issues({f"cf_{field}": key.value})
            issues = [
                i for i in issues if field_value(i, self._settings.fields.account) == key.value
            ]
        else:
            issues = await self._issues_by_number(key.value)
        await self._know_assignees(issues)
        return self._answer(issues)

    async def _issue_by_number(self, value: str) -> list[Issue]:
        number = _ISSUE_NUMBER.fullmatch(value.removeprefix("T-"))
        if number is None:
            return []
        path = f"issues/{int(number.group(1))}.json"
        try:
            answer = await self._http.get(path, {}, IssueAnswer, MAX_ISSUE_BYTES, self._timeout)
        except TicketSourceError as error:
            if _not_found(error, path):  # no such issue, or not visible to us
                return []
            raise
        return [answer.issue]

    async def _issues_by_number(self, number: str) -> list[Issue]:
        field = await self._field_id(self._settings.fields.phone)
        try:
            national = str(phonenumbers.parse(number).national_number)
        except phonenumbers.NumberParseException:
            return []
        # `~` is Redmine's "contains": the digits without country or trunk prefix match the
        # field however its number starts (+7..., 8..., 7...); then each candidate's numbers are
        # compared in E.164, so a longer number that merely contains these digits is dropped.
        found = await self._open_issues({f"cf_{field}": f"~{national}"})
        region = self._settings.default_region
        phone = self._settings.fields.phone
        return [i for i in found if number in phone_numbers(field_value(i, phone), region)]

    async def _open_issues(self, query: Mapping[str, str]) -> list[Issue]:
        params = {
            **self._scope(), **query, "status_id": "open", "sort": "updated_on:desc",
            "limit": str(LOOKUP_TICKETS),
        }  # fmt: skip
        page = await self._http.get("issues.json", params, IssuePage, MAX_PAGE_BYTES, self._timeout)
        return list(page.issues)

    def _answer(self, issues: list[Issue]) -> TicketLookup:
        """One customer and their issues; a number two customers share names nobody."""
        changes = [change_of(issue, self._settings, self._logins) for issue in issues]
        if len({change.customer.ref for change in changes}) != 1:
            return TicketLookup()
        return TicketLookup(changes[0].customer, tuple(change.ticket for change in changes))

    async def _field_id(self, name: str) -> int:
        """The id of the issue custom field `name`, which must be usable as a filter: Redmine
        ignores a `cf_N` filter it does not allow, and would answer with everybody's issues."""
        if self._fields is None:
            answer = await self._http.get(
                "custom_fields.json", {}, CustomFieldList, MAX_PAGE_BYTES, self._timeout
            )
            self._fields = {
                field.name: field
                for field in answer.custom_fields
                if field.customized_type == "issue"
            }
        field = self._fields.get(name)
        if field is None or not field.is_filter:
            self._fields = None  # asked again next time: an admin may fix it meanwhile
            problem = "no issue field named" if field is None else "not used as a filter:"
            raise TicketSourceError(
                SourceFailure.INVALID, f"custom_fields.json: {problem} {name!r}"
            )
        return field.id

    def _scope(self) -> dict[str, str]:
        project = self._settings.project
        return {} if project is None else {"project_id": project}

    # After the call

    async def record_call(self, report: CallReport) -> None:
        """A journal note on the issue the call was routed with; a call without one, or whose
        issue is gone, leaves nothing to write."""
        number = _ISSUE_NUMBER.fullmatch(report.ticket or "")
        if number is None:
            return
        path = f"issues/{int(number.group(1))}.json"
        try:
            issue = await self._http.get(
                path, {"include": "journals"}, IssueJournalsAnswer, MAX_ISSUE_BYTES, self._timeout
            )
        except TicketSourceError as error:
            if _not_found(error, path):
                return
            raise
        written = marker(report.call_id)
        if any(written in (journal.notes or "") for journal in issue.issue.journals):
            return  # the note is there already: a repeated report changes nothing
        body = {"issue": {"notes": note_text(report)}}
        author = report.agent_login if self._settings.write_as_agent else None
        status = await self._put(path, body, author)
        if status == 412 and author is not None:  # no such Redmine user: the key's user writes
            status = await self._put(path, body, None)
        check_status(path, status)

    async def _put(self, path: str, body: Mapping[str, object], author: str | None) -> int:
        headers = dict(self._http.headers)
        if author is not None:
            headers["X-Redmine-Switch-User"] = author
        async with (
            SourceFailures(path),
            self._http.session().put(
                f"{self._http.base}/{path}", json=body, headers=headers, timeout=self._timeout,
                allow_redirects=False,
            ) as response,
        ):  # fmt: skip
            return response.status


def _not_found(error: TicketSourceError, path: str) -> bool:
    """The issue is not there (deleted, or not visible to the key): `check_status`'s 404."""
    return error.detail == f"{path}: HTTP 404"
