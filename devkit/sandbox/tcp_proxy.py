"""A TCP proxy on loopback that a fault test controls: between the router and PostgreSQL (or
AMI, or anything spoken over TCP), it passes bytes both ways until told to stall or cut.

  stall()   bytes stop flowing both ways (connections stay open, new ones are accepted and
            stall too): a database that stops answering, a network that drops packets
  resume()  what was held flows on, in order
  cut()     every connection is closed at once; new ones are refused until resume(): a restart,
            a failover, a firewall

Only for tests and benchmarks on loopback; nothing in the product uses it.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field

from devkit.sandbox.postgres import free_port

CHUNK = 65536


@dataclass
class TcpProxy:
    upstream_host: str
    upstream_port: int
    port: int = 0
    _flowing: asyncio.Event = field(default_factory=asyncio.Event)
    _refusing: bool = False
    _server: asyncio.Server | None = None
    _pairs: set[asyncio.Task[None]] = field(default_factory=set)
    _writers: set[asyncio.StreamWriter] = field(default_factory=set)
    connections: int = 0

    async def start(self) -> int:
        self._flowing.set()
        self.port = self.port or free_port()
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        return self.port

    async def stop(self) -> None:
        self.cut()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        for task in list(self._pairs):
            task.cancel()
        if self._pairs:
            await asyncio.wait(set(self._pairs), timeout=2)

    def stall(self) -> None:
        self._flowing.clear()

    def resume(self) -> None:
        self._refusing = False
        self._flowing.set()

    def cut(self) -> None:
        self._refusing = True
        self._flowing.set()  # nothing held back: the closed sockets end it all
        for writer in list(self._writers):
            writer.close()
        self._writers.clear()

    async def _serve(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        if self._refusing:
            client_w.close()
            return
        try:
            server_r, server_w = await asyncio.open_connection(
                self.upstream_host, self.upstream_port
            )
        except OSError:
            client_w.close()
            return
        self.connections += 1
        self._writers |= {client_w, server_w}
        task = asyncio.current_task()
        assert task is not None
        self._pairs.add(task)
        try:
            await asyncio.gather(self._pipe(client_r, server_w), self._pipe(server_r, client_w))
        finally:
            self._pairs.discard(task)
            for writer in (client_w, server_w):
                self._writers.discard(writer)
                writer.close()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, asyncio.IncompleteReadError, ConnectionError):
            while data := await reader.read(CHUNK):
                await self._flowing.wait()
                if self._refusing:
                    break
                writer.write(data)
                await writer.drain()
        writer.close()
