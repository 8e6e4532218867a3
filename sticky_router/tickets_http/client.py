"""`HttpTicketSource`: the core's TicketSource over the JSON contract of docs/ticket-sources.md.

Every request has a hard timeout and a bearer token; redirects are not followed (a redirect
could carry the token to another host); an answer is read up to a size bound and checked by
`contract.py` before anything of it is believed. Failures become `TicketSourceError` with a
closed kind (unavailable, timeout, invalid, refused) and a detail that names the operation and
the HTTP status only: never the token, the caller's number or a customer's name.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import aiohttp

from sticky_router.routing_core.model import CallerKey
from sticky_router.routing_core.tickets import (
    CallReport,
    TicketChange,
    TicketLookup,
)
from sticky_router.ticket_transport.http import JsonHttp, SourceFailures, check_status
from sticky_router.tickets_http.contract import (
    MAX_LOOKUP_BYTES,
    MAX_TICKETS_BYTES,
    LookupAnswer,
    TicketsAnswer,
    call_report_body,
)

SOURCE_NAME = "http"


class HttpTicketSource:
    def __init__(
        self,
        base_url: str,
        token: str | None,
        *,
        timeout_seconds: float = 2.0,
        sync_timeout_seconds: float = 30.0,
    ) -> None:
        headers = {"Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self._http = JsonHttp(base_url, headers)
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self._sync_timeout = aiohttp.ClientTimeout(total=sync_timeout_seconds)

    def __repr__(self) -> str:  # the headers hold the token: never in a repr
        return f"HttpTicketSource({self._http.base!r})"

    @property
    def name(self) -> str:
        return SOURCE_NAME

    @property
    def base_url(self) -> str:
        return self._http.base

    async def close(self) -> None:
        await self._http.close()

    async def lookup(self, key: CallerKey) -> TicketLookup:
        params = {"kind": key.kind.value, "value": key.value}
        answer = await self._http.get(
            "lookup", params, LookupAnswer, MAX_LOOKUP_BYTES, self._timeout
        )
        return answer.to_core()

    async def changes_since(self, since: datetime | None) -> Sequence[TicketChange]:
        params = {"updated_since": since.isoformat()} if since is not None else {}
        answer = await self._http.get(
            "tickets", params, TicketsAnswer, MAX_TICKETS_BYTES, self._sync_timeout
        )
        return answer.to_core()

    async def record_call(self, report: CallReport) -> None:
        """POST the call-ended webhook. The peer treats a repeated call id as done (2xx or 409):
        after a timeout we cannot know whether it got the first one."""
        async with (
            SourceFailures("calls"),
            self._http.session().post(
                f"{self._http.base}/calls",
                json=call_report_body(report),
                headers=self._http.headers,
                timeout=self._timeout,
                allow_redirects=False,
            ) as response,
        ):
            if response.status == 409:  # already recorded: what we wanted
                return
            check_status("calls", response.status)
