"""The web foundation over real HTTP on a real PostgreSQL: sign-in, sessions, rights, CSRF,
Origin, rate limiting and the security headers, for both kinds of people."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta

import aiohttp
import pytest

from sticky_router.web.auth.sessions import COOKIE_NAMES
from sticky_router.web.security import CONTENT_SECURITY_POLICY
from tests.web.conftest import WebApp

pytestmark = pytest.mark.integration


async def test_agent_signs_in_and_gets_a_strict_http_only_session_cookie(web: WebApp) -> None:
    response = await web.client.post(
        "/agent/sign-in",
        data={"name": "agent1", "password": "agent1-secret"},
        headers={"Origin": web.origin},
        allow_redirects=False,
    )
    assert response.status == 303
    assert response.headers["Location"] == "/agent/"
    cookie = response.cookies[COOKIE_NAMES["agent"]]
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Strict"
    page = await web.client.get("/agent/")
    assert page.status == 200
    assert "Anna Smirnova" in await page.text()
    stored = await web.pool.fetchval("SELECT token_hash FROM web_sessions")
    assert stored != cookie.value  # only the token's hash is kept


async def test_wrong_password_and_unknown_name_get_the_same_answer(web: WebApp) -> None:
    assert await web.sign_in("agent", "agent1", "wrong-password") == 401
    assert await web.sign_in("agent", "nobody", "wrong-password") == 401
    assert await web.sign_in("agent", "agent3", "no-password-set") == 401  # no hash stored


async def test_sign_in_is_rate_limited_per_account_with_a_clear_429(web: WebApp) -> None:
    for _ in range(5):
        assert await web.sign_in("agent", "agent1", "guess") == 401
    response = await web.client.post(
        "/agent/sign-in",
        data={"name": "agent1", "password": "agent1-secret"},  # even the right one now
        headers={"Origin": web.origin},
        allow_redirects=False,
    )
    assert response.status == 429
    assert int(response.headers["Retry-After"]) > 0
    assert "Too many failed sign-ins" in await response.text()
    assert await web.sign_in("agent", "agent2") == 303  # another account is not locked out


async def test_sign_in_is_rate_limited_per_client_address(
    make_web: Callable[..., Awaitable[WebApp]],
) -> None:
    web = await make_web(sign_in_failures_per_address=3)
    for name in ("a", "b", "c"):
        assert await web.sign_in("agent", name, "guess") == 401
    assert await web.sign_in("agent", "agent1") == 429


async def test_agent_session_on_an_admin_page_is_403_and_no_session_redirects(
    web: WebApp,
) -> None:
    anonymous = await web.client.get("/admin/", allow_redirects=False)
    assert (anonymous.status, anonymous.headers["Location"]) == (303, "/admin/sign-in")
    assert await web.sign_in("agent", "agent1") == 303
    response = await web.client.get("/admin/", allow_redirects=False)
    assert response.status == 403


async def test_admin_signs_in_separately_and_cannot_open_the_agent_screen(web: WebApp) -> None:
    assert await web.sign_in("agent", "boss", "boss-secret-1") == 401  # not an agent
    assert await web.sign_in("admin", "boss") == 303
    home = await web.client.get("/admin/")
    assert home.status == 200
    assert "The Boss" in await home.text()
    assert (await web.client.get("/agent/", allow_redirects=False)).status == 403


async def test_state_changing_request_without_the_csrf_token_is_refused(web: WebApp) -> None:
    assert await web.sign_in("agent", "agent1") == 303
    refused = await web.client.post(
        "/agent/sign-out", data={}, headers={"Origin": web.origin}, allow_redirects=False
    )
    assert refused.status == 403
    assert (await web.client.get("/agent/", allow_redirects=False)).status == 200  # still in
    page = await (await web.client.get("/agent/")).text()
    token = page.split('name="csrf-token" content="', 1)[1].split('"', 1)[0]
    signed_out = await web.client.post(
        "/agent/sign-out",
        data={"csrf_token": token},
        headers={"Origin": web.origin},
        allow_redirects=False,
    )
    assert signed_out.status == 303
    assert await web.pool.fetchval("SELECT count(*) FROM web_sessions") == 0


async def test_post_from_a_foreign_origin_or_without_origin_is_refused(web: WebApp) -> None:
    for headers in ({"Origin": "http://evil.example"}, {}):
        response = await web.client.post(
            "/agent/sign-in",
            data={"name": "agent1", "password": "agent1-secret"},
            headers=headers,
            allow_redirects=False,
        )
        assert response.status == 403
    assert await web.pool.fetchval("SELECT count(*) FROM web_sessions") == 0


async def test_websocket_from_a_foreign_origin_is_refused(web: WebApp) -> None:
    assert await web.sign_in("agent", "agent1") == 303
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await web.client.ws_connect("/agent/ws", headers={"Origin": "http://evil.example"})
    assert refused.value.status == 403
    socket = await web.client.ws_connect("/agent/ws", headers={"Origin": web.origin})
    hello = await socket.receive_json(timeout=5)
    assert hello == {"type": "hello", "agent": "agent1"}
    await socket.close()


async def test_idle_and_absolute_session_expiry(web: WebApp) -> None:
    assert await web.sign_in("agent", "agent1") == 303
    web.clock.advance(timedelta(minutes=29))
    assert (await web.client.get("/agent/", allow_redirects=False)).status == 200
    web.clock.advance(timedelta(minutes=31))  # idle for 31 minutes
    expired = await web.client.get("/agent/", allow_redirects=False)
    assert (expired.status, expired.headers["Location"]) == (303, "/agent/sign-in?expired=1")
    assert await web.pool.fetchval("SELECT count(*) FROM web_sessions") == 0
    assert await web.sign_in("agent", "agent1") == 303
    signed_in_at = web.clock.now
    while (await web.client.get("/agent/", allow_redirects=False)).status == 200:
        web.clock.advance(timedelta(minutes=29))  # busy all day, never idle for 30 minutes
        assert web.clock.now - signed_in_at < timedelta(hours=13)
    lasted = web.clock.now - signed_in_at
    assert timedelta(hours=12) <= lasted < timedelta(hours=12, minutes=29)


async def test_every_page_carries_the_security_headers(web: WebApp) -> None:
    assert await web.sign_in("agent", "agent1") == 303
    for path in ("/agent/sign-in", "/agent/", "/admin/"):
        response = await web.client.get(path, allow_redirects=False)
        assert response.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["Cache-Control"] == "no-store"
        assert response.headers["X-Content-Type-Options"] == "nosniff"


async def test_changing_a_password_ends_the_persons_sessions(web: WebApp) -> None:
    from sticky_router.web.auth.accounts import set_password

    assert await web.sign_in("agent", "agent1") == 303
    await set_password(web.pool, "agent", "agent1", "a-new-password")
    assert (await web.client.get("/agent/", allow_redirects=False)).status == 303
    assert await web.sign_in("agent", "agent1", "a-new-password") == 303


async def test_a_web_server_that_cannot_start_reports_it_and_raises_nothing(web: WebApp) -> None:
    """The router carries on routing calls when its pages cannot start (port taken here)."""
    import socket

    from sticky_router.web.app import create_app
    from sticky_router.web.pops.hub import PopHub
    from sticky_router.web.server import WebServer
    from sticky_router.web.settings import WebSettings

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        app = create_app(pool=web.pool, settings=WebSettings(port=port), hub=PopHub())
        server = WebServer(app, "127.0.0.1", port)
        assert await server.start() is False
        assert not server.running


async def test_an_open_screen_socket_closes_when_its_session_expires(
    make_web: Callable[..., Awaitable[WebApp]],
) -> None:
    web = await make_web(socket_session_check_seconds=0.2)
    assert await web.sign_in("agent", "agent1") == 303
    socket = await web.client.ws_connect("/agent/ws", headers={"Origin": web.origin})
    assert (await socket.receive_json(timeout=5))["type"] == "hello"
    web.clock.advance(timedelta(minutes=31))
    closed = await socket.receive(timeout=5)
    assert closed.type == aiohttp.WSMsgType.CLOSE
    assert closed.data == 4401


async def test_a_burst_of_sign_ins_never_stalls_the_event_loop(
    make_web: Callable[..., Awaitable[WebApp]],
) -> None:
    """argon2 runs in worker threads, two at a time: 24 sign-ins at once (each 10s of ms of
    CPU, on the loop they would hold it for over a second) leave a 10 ms timer on time."""
    web = await make_web(sign_in_failures_per_account=1000, sign_in_failures_per_address=1000)
    loop = asyncio.get_running_loop()
    worst = 0.0
    burst_over = asyncio.Event()

    async def ticker() -> None:
        nonlocal worst
        while not burst_over.is_set():
            started = loop.time()
            await asyncio.sleep(0.01)
            worst = max(worst, loop.time() - started - 0.01)

    ticking = asyncio.ensure_future(ticker())
    statuses = await asyncio.gather(
        *(web.sign_in("agent", f"agent{n % 4 + 1}", "wrong-guess") for n in range(24))
    )
    burst_over.set()
    await ticking
    assert set(statuses) <= {401, 429}  # 429: more than may wait for a check at once
    assert statuses.count(401) >= 2
    assert worst < 0.25, f"the event loop stalled for {worst * 1000:.0f} ms"
