"""The HTTP ticket source against a real HTTP peer: the example service, and a few hostile
ones built for the occasion. Every failure is one of the closed kinds, and quickly."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from aiohttp import web

from sticky_router.routing_core.model import CallerKey, KeyKind
from sticky_router.routing_core.tickets import SourceFailure, TicketSourceError
from sticky_router.tickets_http.client import HttpTicketSource
from sticky_router.tickets_http.contract import MAX_LOOKUP_BYTES
from tests.tickets.conftest import TOKEN, TicketService
from tests.web.conftest import free_port

IVAN = CallerKey(KeyKind.NUMBER, "+79123456701")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


async def test_lookup_by_number_account_and_ticket(source: HttpTicketSource) -> None:
    by_number = await source.lookup(IVAN)
    assert by_number.customer is not None
    assert by_number.customer.name == "Ivan Petrov"
    assert [(t.external_id, t.owner_login) for t in by_number.tickets] == [("CRM-5001", "agent3")]
    by_account = await source.lookup(CallerKey(KeyKind.ACCOUNT, "100202"))
    assert by_account.customer is not None
    assert by_account.customer.class_name == "vip"
    by_ticket = await source.lookup(CallerKey(KeyKind.TICKET, "CRM-5001"))
    assert by_ticket.customer == by_number.customer
    nobody = await source.lookup(CallerKey(KeyKind.NUMBER, "+79990000000"))
    assert nobody.customer is None
    assert nobody.tickets == ()


async def test_a_wrong_token_is_refused_and_never_repeated(service: TicketService) -> None:
    wrong = HttpTicketSource(service.url, "not-the-token-s3cr3t", timeout_seconds=0.5)
    try:
        with pytest.raises(TicketSourceError) as raised:
            await wrong.lookup(IVAN)
    finally:
        await wrong.close()
    assert raised.value.failure is SourceFailure.REFUSED
    assert "401" in str(raised.value)
    assert "s3cr3t" not in str(raised.value)
    assert "s3cr3t" not in repr(wrong)


async def assert_fails(
    source: HttpTicketSource, failure: SourceFailure, within: float = 1.0
) -> TicketSourceError:
    started = time.monotonic()
    with pytest.raises(TicketSourceError) as raised:
        await source.changes_since(None)
    assert raised.value.failure is failure
    assert time.monotonic() - started < within
    return raised.value


async def test_garbage_is_invalid(service: TicketService, source: HttpTicketSource) -> None:
    service.book.garbage = True
    error = await assert_fails(source, SourceFailure.INVALID)
    assert "tickets.0" in error.detail  # where it was wrong, not what it said


async def test_a_slow_service_times_out(service: TicketService, source: HttpTicketSource) -> None:
    service.book.delay_seconds = 5.0
    await assert_fails(source, SourceFailure.TIMEOUT)


async def test_a_stopped_service_is_unavailable(
    service: TicketService, source: HttpTicketSource
) -> None:
    await service.stop()
    await assert_fails(source, SourceFailure.UNAVAILABLE)


@pytest.fixture
async def hostile() -> AsyncIterator[Callable[[Handler], Awaitable[HttpTicketSource]]]:
    """A peer that answers every request with the handler a test gives it."""
    runners: list[web.AppRunner] = []
    sources: list[HttpTicketSource] = []

    async def serve(handler: Handler) -> HttpTicketSource:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", handler)
        runner = web.AppRunner(app)
        await runner.setup()
        port = free_port()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        runners.append(runner)
        sources.append(HttpTicketSource(f"http://127.0.0.1:{port}", TOKEN, timeout_seconds=1))
        return sources[-1]

    yield serve
    for client in sources:
        await client.close()
    for runner in runners:
        await runner.cleanup()


async def test_an_oversized_answer_is_cut_off(
    hostile: Callable[[Handler], Awaitable[HttpTicketSource]],
) -> None:
    async def huge(request: web.Request) -> web.StreamResponse:
        # Chunked, no Content-Length: the bound must hold while reading, not only up front.
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        await response.prepare(request)
        await response.write(b'{"customer": null, "tickets": [' + b" " * 64 * 1024)
        for _ in range(MAX_LOOKUP_BYTES // (64 * 1024) + 2):
            await response.write(b" " * 64 * 1024)
        await response.write_eof(b"]}")
        return response

    source = await hostile(huge)
    with pytest.raises(TicketSourceError, match="over") as raised:
        await source.lookup(IVAN)
    assert raised.value.failure is SourceFailure.INVALID


async def test_html_from_a_proxy_is_invalid(
    hostile: Callable[[Handler], Awaitable[HttpTicketSource]],
) -> None:
    async def html(_: web.Request) -> web.StreamResponse:
        return web.Response(text="<html>maintenance</html>", content_type="text/html")

    source = await hostile(html)
    with pytest.raises(TicketSourceError) as raised:
        await source.lookup(IVAN)
    assert raised.value.failure is SourceFailure.INVALID


async def test_a_redirect_is_not_followed_with_the_token(
    hostile: Callable[[Handler], Awaitable[HttpTicketSource]],
) -> None:
    seen_tokens: list[str] = []

    async def elsewhere(request: web.Request) -> web.StreamResponse:
        seen_tokens.append(request.headers.get("Authorization", ""))
        return web.json_response({"customer": None, "tickets": []})

    other = await hostile(elsewhere)
    target = other.base_url  # the second peer's address

    async def redirect(_: web.Request) -> web.StreamResponse:
        raise web.HTTPFound(f"{target}/lookup")

    source = await hostile(redirect)
    with pytest.raises(TicketSourceError) as raised:
        await source.lookup(IVAN)
    assert raised.value.failure is SourceFailure.REFUSED
    assert seen_tokens == []


async def test_a_server_error_is_unavailable(
    hostile: Callable[[Handler], Awaitable[HttpTicketSource]],
) -> None:
    async def broken(_: web.Request) -> web.StreamResponse:
        return web.json_response({"error": "db down"}, status=503)

    source = await hostile(broken)
    with pytest.raises(TicketSourceError) as raised:
        await source.changes_since(None)
    assert raised.value.failure is SourceFailure.UNAVAILABLE
