"""The ARI client against a small aiohttp server on loopback that misbehaves on purpose.

What every published Python ARI client failed at (docs/real-components.md): a websocket that
closes, a server that is not there, credentials in URLs, a slow handler blocking the reader.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from urllib.parse import unquote

import aiohttp
import pytest
import structlog
from aiohttp import web

from sticky_router.ari_app import client as ari_client
from sticky_router.ari_app.client import AriClient, AriError, Backoff, Event, segment


@dataclass
class FakeAsterisk:
    """Counts websocket connections; closes each after sending `events`."""

    events: list[Event] = field(default_factory=list)
    connections: int = 0
    authorizations: list[str] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    close_after_events: bool = True
    # ARI REST over WebSocket (Asterisk 22.4 and later): RESTRequest frames answered on the
    # websocket. False: an older Asterisk, which reads such frames and ignores them.
    answers_rest: bool = False
    hang_up_on: str = ""  # a request uri at which the websocket closes without an answer
    rest_uris: list[str] = field(default_factory=list)

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
            async for message in socket:  # until the client goes away
                if self.answers_rest and message.type is aiohttp.WSMsgType.TEXT:
                    frame = json.loads(message.data)
                    self.rest_uris.append(frame["uri"])
                    if frame["uri"] == self.hang_up_on:
                        await socket.close()
                        break
                    await socket.send_json(rest_response(frame))
        return socket

    async def device(self, request: web.Request) -> web.Response:
        self.paths.append(request.raw_path)
        if request.match_info["name"] == "PJSIP/missing":
            return web.json_response({"message": "not found"}, status=404)
        return web.json_response({"name": request.match_info["name"], "state": "NOT_INUSE"})


def rest_response(frame: dict[str, str]) -> Event:
    """What Asterisk answers: the status and the JSON body as a string."""
    path, _, query = frame["uri"].partition("?")
    status, body = 200, {"ping": "pong"}
    if path.startswith("deviceStates/"):
        name = unquote(path.removeprefix("deviceStates/"))
        status, body = (404, {"message": "not found"}) if name == "PJSIP/missing" else (
            200, {"name": name, "state": "NOT_INUSE", "query": unquote(query)})  # fmt: skip
    return {
        "type": "RESTResponse", "request_id": frame.get("request_id", ""), "uri": path,
        "status_code": status, "reason_phrase": "OK" if status == 200 else "Not Found",
        "content_type": "application/json", "message_body": json.dumps(body),
    }  # fmt: skip


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


async def _ignore(_event: Event) -> None:
    return None


async def _nothing() -> None:
    return None


async def _until(condition: Callable[[], bool], seconds: float = 3.0) -> None:
    """Polls: the client has no event to wait on for this."""
    async with asyncio.timeout(seconds):
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(0.01)


async def test_rest_calls_go_over_the_websocket_once_asterisk_answers_there(
    fake: tuple[FakeAsterisk, str],
) -> None:
    server, url = fake
    server.close_after_events, server.answers_rest = False, True
    async with AriClient(url, "router", "pw", "sticky-router") as client:
        events = asyncio.create_task(client.run_events(_ignore, _nothing))
        await _until(lambda: client.rest_over_websocket)
        state = await client.request(
            "GET", f"/deviceStates/{segment('PJSIP/agent1')}", params={"x": "a b,(c)+&d"}
        )
        assert state == {"name": "PJSIP/agent1", "state": "NOT_INUSE", "query": "x=a b,(c)+&d"}
        with pytest.raises(AriError) as refused:
            await client.request("GET", f"/deviceStates/{segment('PJSIP/missing')}")
        assert refused.value.status == 404
        events.cancel()
        with pytest.raises(asyncio.CancelledError):
            await events
    assert server.rest_uris == [
        "asterisk/ping",  # the probe
        "deviceStates/PJSIP%2Fagent1?x=a%20b%2C%28c%29%2B%26d",
        "deviceStates/PJSIP%2Fmissing",
    ]
    assert not [path for path in server.paths if "deviceStates" in path]  # none over HTTP


async def test_an_asterisk_that_ignores_rest_over_the_websocket_is_called_over_http(
    fake: tuple[FakeAsterisk, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Asterisk before 20.14, 21.9 and 22.4 reads RESTRequest frames and says nothing."""
    monkeypatch.setattr(ari_client, "PROBE_SECONDS", 0.2)
    server, url = fake
    server.close_after_events = False
    with structlog.testing.capture_logs() as logs:
        async with AriClient(url, "router", "pw", "sticky-router") as client:
            events = asyncio.create_task(client.run_events(_ignore, _nothing))
            await _until(lambda: any(e["event"] == "ari_rest_over_http" for e in logs))
            state = await client.request("GET", f"/deviceStates/{segment('PJSIP/agent1')}")
            assert state["state"] == "NOT_INUSE"
            assert not client.rest_over_websocket
            events.cancel()
            with pytest.raises(asyncio.CancelledError):
                await events
    assert "/ari/deviceStates/PJSIP%2Fagent1" in server.paths


async def test_a_call_waiting_when_the_websocket_closes_fails_at_once_and_the_next_goes_by_http(
    fake: tuple[FakeAsterisk, str],
) -> None:
    server, url = fake
    server.close_after_events, server.answers_rest = False, True
    server.hang_up_on = "deviceStates/PJSIP%2Fagent9"
    async with AriClient(url, "router", "pw", "sticky-router", request_timeout=5) as client:
        events = asyncio.create_task(client.run_events(_ignore, _nothing))
        await _until(lambda: client.rest_over_websocket)
        started = time.monotonic()
        # What a broken HTTP connection raises (AriChannels makes it AriUnavailable).
        with pytest.raises(ConnectionResetError, match="websocket closed"):
            await client.request("GET", f"/deviceStates/{segment('PJSIP/agent9')}")
        assert time.monotonic() - started < 1  # not the 5 s timeout
        assert not client.rest_over_websocket
        state = await client.request("GET", f"/deviceStates/{segment('PJSIP/agent1')}")
        assert state["state"] == "NOT_INUSE"
        assert "/ari/deviceStates/PJSIP%2Fagent1" in server.paths  # over HTTP meanwhile
        events.cancel()
        with pytest.raises(asyncio.CancelledError):
            await events
