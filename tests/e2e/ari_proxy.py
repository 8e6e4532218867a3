"""A fault-injecting proxy between the router and Asterisk's ARI, on loopback.

Every REST request and the event websocket pass through unchanged, except where a test asked
for a fault: the next N requests whose method and path match answer 500 (or are held for some
seconds first, as a hung Asterisk would), or the event websocket is cut. A REST request is
matched the same whether it came over HTTP or as a RESTRequest frame on the event websocket
(ARI REST over WebSocket, which the router uses when Asterisk answers there). The router under
test is pointed at the proxy instead of Asterisk; Asterisk itself never knows.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from dataclasses import dataclass, field

import aiohttp
from aiohttp import web
from yarl import URL

from devkit.sandbox.ports import free_port


@dataclass
class Fault:
    method: str
    path: re.Pattern[str]
    times: int
    status: int | None = 500  # None: pass the request on (after the delay)
    delay: float = 0.0
    hits: int = 0


@dataclass
class FaultyAri:
    upstream: str  # http://127.0.0.1:PORT of Asterisk's HTTP server
    faults: list[Fault] = field(default_factory=list)
    # method, path, status of every REST request, whichever way it came
    requests: list[tuple[str, str, int]] = field(default_factory=list)
    # RESTRequest frames passed on to Asterisk: request id -> method, path (for `requests`)
    _passed_on: dict[str, tuple[str, str]] = field(default_factory=dict)
    over_websocket: list[str] = field(default_factory=list)  # paths of the RESTRequest frames
    _held: set[asyncio.Task[None]] = field(default_factory=set)
    _runner: web.AppRunner | None = None
    _session: aiohttp.ClientSession | None = None
    _sockets: set[web.WebSocketResponse] = field(default_factory=set)
    port: int = 0

    def fail(self, method: str, path: str, times: int = 1, status: int = 500) -> Fault:
        """The next `times` requests matching answer `status` without reaching Asterisk."""
        fault = Fault(method, re.compile(path), times, status=status)
        self.faults.append(fault)
        return fault

    def hold(self, method: str, path: str, seconds: float, times: int = 1) -> Fault:
        """The next `times` requests matching wait `seconds` before they go on."""
        fault = Fault(method, re.compile(path), times, status=None, delay=seconds)
        self.faults.append(fault)
        return fault

    async def cut_events(self) -> None:
        """Close the event websockets from Asterisk's side, as a restart or a network cut does."""
        for socket in list(self._sockets):
            await socket.close()

    async def start(self) -> str:
        self._session = aiohttp.ClientSession()
        app = web.Application()
        app.router.add_route("GET", "/ari/events", self._events)
        app.router.add_route("*", "/{tail:.*}", self._forward)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        self.port = free_port()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()
        return f"http://127.0.0.1:{self.port}"

    async def stop(self) -> None:
        await self.cut_events()
        if self._runner is not None:
            await self._runner.cleanup()
        if self._session is not None:
            await self._session.close()

    def _fault_for(self, method: str, path: str) -> Fault | None:
        for fault in self.faults:
            if fault.hits < fault.times and fault.method == method and fault.path.search(path):
                fault.hits += 1
                return fault
        return None

    async def _forward(self, request: web.Request) -> web.StreamResponse:
        assert self._session is not None
        # The path as sent: still encoded (PJSIP%2Fagent2 is one segment, not two).
        path = request.rel_url.raw_path
        fault = self._fault_for(request.method, path)
        if fault is not None:
            await asyncio.sleep(fault.delay)
            if fault.status is not None:
                self.requests.append((request.method, path, fault.status))
                return web.Response(status=fault.status, text='{"message": "injected fault"}')
        forwarded = ("authorization", "content-type")  # a JSON body (the event filter) too
        headers = {k: v for k, v in request.headers.items() if k.lower() in forwarded}
        async with self._session.request(
            request.method,
            URL(self.upstream + path, encoded=True),
            params=request.query,
            data=await request.read(),
            headers=headers,
        ) as upstream:
            body = await upstream.read()
            self.requests.append((request.method, path, upstream.status))
            return web.Response(
                status=upstream.status,
                body=body,
                content_type=upstream.content_type if body else None,
            )

    async def _events(self, request: web.Request) -> web.StreamResponse:
        assert self._session is not None
        client = web.WebSocketResponse()
        await client.prepare(request)
        self._sockets.add(client)
        forwarded = ("authorization", "content-type")  # a JSON body (the event filter) too
        headers = {k: v for k, v in request.headers.items() if k.lower() in forwarded}
        url = self.upstream.replace("http", "ws", 1) + "/ari/events"
        try:
            async with self._session.ws_connect(url, params=request.query, headers=headers) as ws:

                async def to_router() -> None:
                    async for message in ws:
                        if message.type is aiohttp.WSMsgType.TEXT:
                            self._answered(json.loads(message.data))
                            await client.send_str(message.data)

                pump = asyncio.create_task(to_router())
                async for message in client:  # REST calls, until the router closes
                    if message.type is aiohttp.WSMsgType.TEXT:
                        frame = json.loads(message.data)
                        held = asyncio.create_task(self._rest_frame(frame, ws, client))
                        self._held.add(held)
                        held.add_done_callback(self._held.discard)
                pump.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await pump
        finally:
            self._sockets.discard(client)
        return client

    async def _rest_frame(
        self,
        frame: dict[str, str],
        upstream: aiohttp.ClientWebSocketResponse,
        client: web.WebSocketResponse,
    ) -> None:
        """A REST call made over the websocket: faulted like its HTTP twin, or passed on."""
        method, request_id = frame.get("method", ""), frame.get("request_id", "")
        path = "/ari/" + frame.get("uri", "").partition("?")[0]
        self.over_websocket.append(path)
        fault = self._fault_for(method, path)
        if fault is not None:
            await asyncio.sleep(fault.delay)
            if fault.status is not None:
                self.requests.append((method, path, fault.status))
                answer = {
                    "type": "RESTResponse", "request_id": request_id, "uri": frame.get("uri"),
                    "status_code": fault.status, "reason_phrase": "Injected",
                    "content_type": "application/json",
                    "message_body": '{"message": "injected fault"}',
                }  # fmt: skip
                with contextlib.suppress(ConnectionError):
                    await client.send_str(json.dumps(answer))
                return
        self._passed_on[request_id] = (method, path)
        with contextlib.suppress(ConnectionError):
            await upstream.send_str(json.dumps(frame))

    def _answered(self, message: dict[str, object]) -> None:
        if message.get("type") == "RESTResponse":
            passed = self._passed_on.pop(str(message.get("request_id", "")), None)
            if passed is not None:
                status = message.get("status_code")
                self.requests.append((*passed, status if isinstance(status, int) else 0))
