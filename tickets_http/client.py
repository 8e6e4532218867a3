"""`HttpTicketSource`: the core's TicketSource over the JSON contract of docs/ticket-sources.md.

Every request has a hard timeout and a bearer token; redirects are not followed (a redirect
could carry the token to another host); an answer is read up to a size bound and checked by
`contract.py` before anything of it is believed. Failures become `TicketSourceError` with a
closed kind (unavailable, timeout, invalid, refused) and a detail that names the operation and
the HTTP status only: never the token, the caller's number or a customer's name.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TypeVar

import aiohttp
from pydantic import BaseModel, ValidationError

from routing_core.model import CallerKey
from routing_core.tickets import (
    CallReport,
    SourceFailure,
    TicketChange,
    TicketLookup,
    TicketSourceError,
)
from tickets_http.contract import (
    MAX_LOOKUP_BYTES,
    MAX_TICKETS_BYTES,
    LookupAnswer,
    TicketsAnswer,
    call_report_body,
)

SOURCE_NAME = "http"
Answer = TypeVar("Answer", bound=BaseModel)


class HttpTicketSource:
    def __init__(
        self,
        base_url: str,
        token: str | None,
        *,
        timeout_seconds: float = 2.0,
        sync_timeout_seconds: float = 30.0,
    ) -> None:
        self._base = base_url.rstrip("/")
        self._headers = {"Accept": "application/json"}
        if token:
            self._headers["Authorization"] = f"Bearer {token}"
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self._sync_timeout = aiohttp.ClientTimeout(total=sync_timeout_seconds)
        self._session: aiohttp.ClientSession | None = None

    def __repr__(self) -> str:  # the headers hold the token: never in a repr
        return f"HttpTicketSource({self._base!r})"

    @property
    def name(self) -> str:
        return SOURCE_NAME

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def lookup(self, key: CallerKey) -> TicketLookup:
        params = {"kind": key.kind.value, "value": key.value}
        answer = await self._get("lookup", params, LookupAnswer, MAX_LOOKUP_BYTES, self._timeout)
        return answer.to_core()

    async def changes_since(self, since: datetime | None) -> Sequence[TicketChange]:
        params = {"updated_since": since.isoformat()} if since is not None else {}
        answer = await self._get(
            "tickets", params, TicketsAnswer, MAX_TICKETS_BYTES, self._sync_timeout
        )
        return answer.to_core()

    async def record_call(self, report: CallReport) -> None:
        """POST the call-ended webhook. The peer treats a repeated call id as done (2xx or 409):
        after a timeout we cannot know whether it got the first one."""
        async with (
            _Failures("calls"),
            self._client().post(
                f"{self._base}/calls",
                json=call_report_body(report),
                headers=self._headers,
                timeout=self._timeout,
                allow_redirects=False,
            ) as response,
        ):
            if response.status == 409:  # already recorded: what we wanted
                return
            self._check_status("calls", response.status)

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:  # created in the running loop, on first use
            self._session = aiohttp.ClientSession()
        return self._session

    async def _get(
        self,
        path: str,
        params: Mapping[str, str],
        model: type[Answer],
        limit: int,
        deadline: aiohttp.ClientTimeout,
    ) -> Answer:
        async with (
            _Failures(path),
            self._client().get(
                f"{self._base}/{path}",
                params=params,
                headers=self._headers,
                timeout=deadline,
                allow_redirects=False,
            ) as response,
        ):
            self._check_status(path, response.status)
            if response.content_type != "application/json":
                raise TicketSourceError(SourceFailure.INVALID, f"{path}: not JSON")
            body = await _read_bounded(response, limit, path)
        try:
            return model.model_validate_json(body)
        except ValidationError as error:
            # Field paths and error kinds only: the values may be a customer's data.
            problems = ", ".join(
                f"{'.'.join(str(p) for p in e['loc'])}:{e['type']}" for e in error.errors()[:3]
            )
            raise TicketSourceError(SourceFailure.INVALID, f"{path}: {problems}") from None

    @staticmethod
    def _check_status(path: str, status: int) -> None:
        if 200 <= status < 300:
            return
        failure = SourceFailure.UNAVAILABLE if status >= 500 else SourceFailure.REFUSED
        raise TicketSourceError(failure, f"{path}: HTTP {status}")


class _Failures:
    """Turns what aiohttp and asyncio raise into the core's closed set of failures."""

    def __init__(self, path: str) -> None:
        self._path = path

    async def __aenter__(self) -> None:
        return None

    async def __aexit__(self, kind: type[BaseException] | None, error: object, _: object) -> bool:
        if kind is None or issubclass(kind, TicketSourceError):
            return False
        if issubclass(kind, TimeoutError | asyncio.TimeoutError):
            raise TicketSourceError(SourceFailure.TIMEOUT, f"{self._path}: no answer in time")
        if issubclass(kind, aiohttp.ClientPayloadError | aiohttp.ContentTypeError):
            raise TicketSourceError(SourceFailure.INVALID, f"{self._path}: {kind.__name__}")
        if issubclass(kind, aiohttp.ClientError | OSError):
            raise TicketSourceError(SourceFailure.UNAVAILABLE, f"{self._path}: {kind.__name__}")
        return False


async def _read_bounded(response: aiohttp.ClientResponse, limit: int, path: str) -> bytes:
    """The body, or INVALID as soon as it passes `limit` (a peer cannot fill our memory)."""
    if response.content_length is not None and response.content_length > limit:
        raise TicketSourceError(SourceFailure.INVALID, f"{path}: answer over {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > limit:
            raise TicketSourceError(SourceFailure.INVALID, f"{path}: answer over {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)
