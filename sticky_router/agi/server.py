"""The FastAGI server: one task per connection, a script chosen by the request's path.

Only our Asterisk is served (agi.peers): a peer outside the allow-list is closed before a byte
is read, and a request without the shared secret before a single command; either way one log
line (`agi_peer_refused`, with the reason and the peer, never the secret) and `on_refused`.

Each connection is its own task (asyncio.start_server gives one per client), so a slow or broken
peer only ever holds its own connection. Every connection is closed in `finally`, end of stream
always ends it, and a connection that goes wrong leaves exactly one log line (logger
`sticky_router.agi`) with the reason and the peer's address, never the caller's number.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import Literal

import structlog

from sticky_router.agi.peers import PeerPolicy
from sticky_router.agi.protocol import (
    MAX_LINE_BYTES,
    AgiCommandError,
    AgiHangup,
    AgiSession,
    AgiTimeout,
    HeaderError,
    read_header,
)

log = structlog.get_logger("sticky_router.agi")

Handler = Callable[[AgiSession], Awaitable[None]]
Refusal = Literal["address", "secret"]

CLOSE_TIMEOUT = 1.0  # a peer that never reads must not keep a closing socket for ever


class AgiServer:
    def __init__(
        self,
        handlers: Mapping[str, Handler],
        host: str,
        port: int,
        peers: PeerPolicy,
        *,
        on_refused: Callable[[Refusal], None] = lambda _reason: None,
        header_timeout: float = 5.0,
        command_timeout: float = 5.0,
        max_connections: int = 200,
    ) -> None:
        self._handlers = dict(handlers)
        self._host = host
        self._port = port
        self._peers = peers
        self._on_refused = on_refused
        self._header_timeout = header_timeout
        self._command_timeout = command_timeout
        self._max_connections = max_connections
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()
        self._refusing = False  # while at the limit: log the first refusal only

    @property
    def port(self) -> int:
        """The bound port (useful with port 0)."""
        if self._server is None or not self._server.sockets:
            return self._port
        return int(self._server.sockets[0].getsockname()[1])

    @property
    def active_connections(self) -> int:
        return len(self._connections)

    async def start(self) -> None:
        # The reader's limit makes readuntil refuse any line longer than an AGI line may be.
        self._server = await asyncio.start_server(
            self._on_connection, self._host, self._port, limit=MAX_LINE_BYTES
        )
        log.info("agi_listening", host=self._host, port=self.port)

    async def stop(self, grace: float = 5.0) -> None:
        """Stop listening, let the conversations under way finish for `grace` seconds, then
        cut the rest (their callers go on in the dialplan: AGI failure means the queue)."""
        if self._server is not None:
            self._server.close()
        if self._connections:
            _, pending = await asyncio.wait(set(self._connections), timeout=grace)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending, timeout=CLOSE_TIMEOUT)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    async def serve(self, stop: asyncio.Event) -> None:
        """Serve until `stop` is set."""
        await self.start()
        try:
            await stop.wait()
        finally:
            await self.stop()

    async def _on_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        peer = _peer(writer)
        if not self._peers.address_allowed(_host(writer)):
            self._refuse("address", peer)
            await _close(writer)
            return
        if len(self._connections) >= self._max_connections:
            if not self._refusing:  # one line per overload, not one per refused peer
                log.warning("agi_too_many_connections", limit=self._max_connections, peer=peer)
            self._refusing = True
            await _close(writer)
            return
        self._refusing = False
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        try:
            await self._converse(reader, writer, peer)
        finally:
            self._connections.discard(task)
            await _close(writer)

    async def _converse(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, peer: str
    ) -> None:
        try:
            request = await read_header(reader, self._header_timeout)
        except HeaderError as error:
            log.info("agi_bad_header", reason=error.reason, peer=peer)
            return
        script = request.script
        if not self._peers.secret_matches(request.script_path):
            self._refuse("secret", peer, script=script[:64])
            return
        call_id = request.get("uniqueid")
        handler = self._handlers.get(script)
        if handler is None:
            log.warning("agi_unknown_script", script=script[:64], peer=peer, call_id=call_id)
            return
        session = AgiSession(reader, writer, request, self._command_timeout)
        try:
            await handler(session)
        except AgiHangup as error:
            log.info("agi_caller_gone", script=script, call_id=call_id, how=str(error), peer=peer)
        except AgiTimeout:
            log.warning("agi_command_timeout", script=script, call_id=call_id, peer=peer)
        except AgiCommandError as error:
            log.error("agi_command_refused", script=script, call_id=call_id, reply=str(error))
        except Exception:
            log.exception("agi_script_failed", script=script, call_id=call_id, peer=peer)

    def _refuse(self, reason: Refusal, peer: str, **details: str) -> None:
        log.warning("agi_peer_refused", reason=reason, peer=peer, **details)
        self._on_refused(reason)


def _host(writer: asyncio.StreamWriter) -> str:
    address = writer.get_extra_info("peername")
    return str(address[0]) if isinstance(address, tuple) and address else ""


def _peer(writer: asyncio.StreamWriter) -> str:
    address = writer.get_extra_info("peername")
    if isinstance(address, tuple) and len(address) >= 2:
        return f"{address[0]}:{address[1]}"
    return str(address)


async def _close(writer: asyncio.StreamWriter) -> None:
    writer.close()
    try:
        async with asyncio.timeout(CLOSE_TIMEOUT):
            await writer.wait_closed()
    except (OSError, TimeoutError):
        writer.transport.abort()
    except asyncio.CancelledError:
        writer.transport.abort()
        raise
