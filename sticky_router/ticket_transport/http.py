"""HTTP plumbing of the ticket-source adapters: a body read up to a bound, a status and whatever
aiohttp or asyncio raise turned into the core's `TicketSourceError` with a closed kind. A detail
names the request's path and the HTTP status only: never a token, a number or a customer's name.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import TypeVar

import aiohttp
from pydantic import BaseModel, ValidationError

from sticky_router.routing_core.tickets import SourceFailure, TicketSourceError

Answer = TypeVar("Answer", bound=BaseModel)


class SourceFailures:
    """`async with SourceFailures(path):` anything a request raises leaves as TicketSourceError."""

    def __init__(self, path: str) -> None:
        self._path = path

    async def __aenter__(self) -> None:
        return None

    async def __aexit__(self, kind: type[BaseException] | None, error: object, _: object) -> None:
        # Never swallows: what it does not translate leaves as it came.
        if kind is None or issubclass(kind, TicketSourceError):
            return
        if issubclass(kind, TimeoutError | asyncio.TimeoutError):
            raise TicketSourceError(SourceFailure.TIMEOUT, f"{self._path}: no answer in time")
        if issubclass(kind, aiohttp.ClientPayloadError | aiohttp.ContentTypeError):
            raise TicketSourceError(SourceFailure.INVALID, f"{self._path}: {kind.__name__}")
        if issubclass(kind, aiohttp.ClientError | OSError):
            raise TicketSourceError(SourceFailure.UNAVAILABLE, f"{self._path}: {kind.__name__}")


def check_status(path: str, status: int) -> None:
    """2xx passes; 5xx is the source being unavailable, any other status a refusal."""
    if 200 <= status < 300:
        return
    failure = SourceFailure.UNAVAILABLE if status >= 500 else SourceFailure.REFUSED
    raise TicketSourceError(failure, f"{path}: HTTP {status}")


async def read_json_bounded(response: aiohttp.ClientResponse, limit: int, path: str) -> bytes:
    """A JSON body, or INVALID as soon as it passes `limit` (a peer cannot fill our memory)."""
    if response.content_type != "application/json":
        raise TicketSourceError(SourceFailure.INVALID, f"{path}: not JSON")
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


def parse_answer(model: type[Answer], body: bytes, path: str) -> Answer:
    """The body checked against its model; an answer that is not it is INVALID."""
    try:
        return model.model_validate_json(body)
    except ValidationError as error:
        # Field paths and error kinds only: the values may be a customer's data.
        problems = ", ".join(
            f"{'.'.join(str(p) for p in e['loc'])}:{e['type']}" for e in error.errors()[:3]
        )
        raise TicketSourceError(SourceFailure.INVALID, f"{path}: {problems}") from None


class JsonHttp:
    """One base URL, its headers (which may hold a secret: never in a repr) and an aiohttp
    session made in the running loop on first use; GETs read bounded and checked answers,
    and no request follows a redirect (it could carry the secret to another host)."""

    def __init__(self, base_url: str, headers: dict[str, str]) -> None:
        self.base = base_url.rstrip("/")
        self.headers = headers
        self._session: aiohttp.ClientSession | None = None

    def __repr__(self) -> str:
        return f"JsonHttp({self.base!r})"

    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def get(
        self,
        path: str,
        params: Mapping[str, str],
        model: type[Answer],
        limit: int,
        deadline: aiohttp.ClientTimeout,
    ) -> Answer:
        async with (
            SourceFailures(path),
            self.session().get(
                f"{self.base}/{path}", params=params, headers=self.headers, timeout=deadline,
                allow_redirects=False,
            ) as response,
        ):  # fmt: skip
            check_status(path, response.status)
            body = await read_json_bounded(response, limit, path)
        return parse_answer(model, body, path)
