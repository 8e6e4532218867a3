"""The ARI client against a small aiohttp server on loopback that misbehaves on purpose.

What every published Python ARI client failed at (docs/real-components.md): a websocket that
closes, a server that is not there, credentials in URLs, a slow handler blocking the reader.
"""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import aiohttp
import pytest
import structlog
from aiohttp import web

from sticky_router.ari_app.client import AriClient, AriError, Backoff, Event, segment


@dataclass
class FakeAsterisk:
    """Counts websocket connections; closes each after sending `events`."""

    events: list[Event] = field(default_factory=list)
    connections: int = 0
    authorizations: list[str] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    close_after_events: bool = True

    async def websocket(self, request: web.Request) -> web.WebSocketResponse:
        self.connections += 1
        self.authorizations.append(request.headers.get("Authorization", ""))
        self.paths.append(request.path_qs)
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        for event in self.events:
            await socket.send_json(event)
        if self.close_after_events:
            await socket.close()
        else:
            async for _message in socket:  # until the client goes away
                pass
        return socket

    async def device(self, request: web.Request) -> web.Response:
        self.paths.append(request.raw_path)
        if request.match_info["name"] == "PJSIP/missing":
            return web.json_response({"message": "not found"}, status=404)
        return web.json_response({"name": request.match_info["name"], "state": "NOT_INUSE"})


@pytest.fixture
async def fake() -> AsyncIterator[tuple[FakeAsterisk, str]]:
    server = FakeAsterisk()
    app = web.Application()
    app.router.add_get("/ari/events", server.websocket)
    app.router.add_get("/ari/deviceStates/{name}", server.device)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield server, f"http://127.0.0.1:{port}"
    await runner.cleanup()


async def test_path_segments_are_encoded_and_credentials_go_in_a_header(
    fake: tuple[FakeAsterisk, str],
) -> None:
    server, url = fake
    async with AriClient(url, "router", "s3cret:pw", "sticky-router") as client:
        state = await client.request("GET", f"/deviceStates/{segment('PJSIP/agent1')}")
        assert state["state"] == "NOT_INUSE"
        with pytest.raises(AriError) as refused:
            await client.request("GET", f"/deviceStates/{segment('PJSIP/missing')}")
        assert refused.value.status == 404
        assert "s3cret" not in repr(client)
    assert "/ari/deviceStates/PJSIP%2Fagent1" in server.paths


async def test_a_closed_websocket_is_reconnected_with_backoff_and_resynced(
    fake: tuple[FakeAsterisk, str],
) -> None:
    server, url = fake
    server.events = [{"type": "StasisStart", "channel": {"id": "c1"}}]
    seen: list[str] = []
    resyncs = 0

    async def on_event(event: Event) -> None:
        seen.append(str(event["type"]))

    async def on_connected() -> None:
        nonlocal resyncs
        resyncs += 1

    cpu_before = time.process_time()
    with structlog.testing.capture_logs() as logs:
        async with AriClient(url, "router", "pw", "sticky-router") as client:
            events = asyncio.create_task(client.run_events(on_event, on_connected))
            await asyncio.sleep(1.0)  # the server hangs up at once, every time
            events.cancel()
            with pytest.raises(asyncio.CancelledError):
                await events
    cpu_used = time.process_time() - cpu_before
    # Reconnected and resynced each time, with a growing pause (0.2, 0.4, ...), not a spin:
    # a connection that ends at once does not reset the backoff.
    delays = [e["in_seconds"] for e in logs if e["event"] == "ari_reconnecting"]
    assert delays[:3] == [0.2, 0.4, 0.8]
    assert 2 <= server.connections <= 3
    assert resyncs == server.connections
    assert seen.count("StasisStart") == server.connections
    assert cpu_used < 0.5
    expected = "Basic " + base64.b64encode(b"router:pw").decode()
    assert set(server.authorizations) == {expected}
    assert all("pw" not in path for path in server.paths)  # never in the URL


async def test_nobody_listening_is_retried_without_raising() -> None:
    async with AriClient("http://127.0.0.1:9", "router", "pw", "sticky-router") as client:
        connected = 0

        async def on_connected() -> None:
            nonlocal connected
            connected += 1

        async def ignore(_event: Event) -> None:
            return None

        events = asyncio.create_task(client.run_events(ignore, on_connected))
        await asyncio.sleep(0.5)
        assert not events.done()  # still trying, quietly
        events.cancel()
        with pytest.raises(asyncio.CancelledError):
            await events
        assert connected == 0


async def test_a_slow_handler_delays_only_its_own_channel(
    fake: tuple[FakeAsterisk, str],
) -> None:
    server, url = fake
    server.close_after_events = False
    server.events = [
        {"type": "StasisStart", "channel": {"id": "slow"}},
        {"type": "StasisStart", "channel": {"id": "fast"}},
        {"type": "StasisEnd", "channel": {"id": "slow"}},
    ]
    order: list[str] = []
    fast_seen = asyncio.Event()

    async def on_event(event: Event) -> None:
        channel = str(event["channel"]["id"])
        if channel == "slow" and event["type"] == "StasisStart":
            await asyncio.sleep(0.5)
        order.append(f"{event['type']}:{channel}")
        if channel == "fast":
            fast_seen.set()

    async def on_connected() -> None:
        return None

    async with AriClient(url, "router", "pw", "sticky-router") as client:
        events = asyncio.create_task(client.run_events(on_event, on_connected))
        await asyncio.wait_for(fast_seen.wait(), 0.3)  # not stuck behind the slow handler
        await asyncio.sleep(0.6)
        events.cancel()
        with pytest.raises(asyncio.CancelledError):
            await events
    # Per channel, the order Asterisk sent.
    assert order == ["StasisStart:fast", "StasisStart:slow", "StasisEnd:slow"]


async def test_no_worker_outlives_a_channel_handed_back_to_the_dialplan(
    fake: tuple[FakeAsterisk, str],
) -> None:
    """After `continue`, Asterisk sends StasisEnd and nothing more for the channel."""
    server, url = fake
    server.close_after_events = False
    server.events = [
        event for n in range(50)
        for event in ({"type": "StasisStart", "channel": {"id": f"c{n}"}},
                      {"type": "StasisEnd", "channel": {"id": f"c{n}"}})
    ]  # fmt: skip
    handled = 0

    async def on_event(_event: Event) -> None:
        nonlocal handled
        handled += 1

    async def on_connected() -> None:
        return None

    async with AriClient(url, "router", "pw", "sticky-router", worker_idle_seconds=0.2) as client:
        events = asyncio.create_task(client.run_events(on_event, on_connected))
        await asyncio.sleep(0.1)
        assert client.channel_workers > 0
        await asyncio.sleep(0.5)
        assert handled == 100
        assert client.channel_workers == 0
        events.cancel()
        with pytest.raises(asyncio.CancelledError):
            await events


def test_backoff_grows_to_its_cap_and_resets() -> None:
    backoff = Backoff(first=0.2, cap=1.0)
    assert [backoff.next_delay() for _ in range(5)] == [0.2, 0.4, 0.8, 1.0, 1.0]
    backoff.reset()
    assert backoff.next_delay() == 0.2


def test_client_error_types_are_aiohttp_ones() -> None:
    # The reconnect loop catches these; if aiohttp renamed them the loop would die.
    assert issubclass(aiohttp.WSServerHandshakeError, aiohttp.ClientError)
