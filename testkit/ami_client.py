"""A plain AMI client for tests (never the code under test): it plays supervisor or an agent
panel (actions such as QueuePause, Atxfer, Hangup) and keeps every event since it connected, with
the sandbox's driver user (the router's own AMI user may only read)."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import Callable

from devkit.sandbox.asterisk import LocalAsterisk
from devkit.sandbox.asterisk_config import SUPPORT_QUEUE

AMI_WAIT = 15.0


class AmiClient:
    """A plain AMI client for the tests (not the code under test): actions, and the events
    since it connected."""

    _ids = itertools.count(1)

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader, self._writer = reader, writer
        self.events: list[dict[str, str]] = []
        self._replies: dict[str, asyncio.Future[dict[str, str]]] = {}
        self._arrived = asyncio.Event()
        self._task = asyncio.get_running_loop().create_task(self._read())

    @classmethod
    async def connect(cls, asterisk: LocalAsterisk) -> AmiClient:
        reader, writer = await asyncio.open_connection("127.0.0.1", asterisk.ami_port)
        await reader.readline()  # Asterisk Call Manager/x.y.z
        client = cls(reader, writer)
        credentials = asterisk.ami_driver_credentials  # the router's user may only read
        reply = await client.action(
            "Login", Username=credentials.user, Secret=credentials.password, Events="call,agent"
        )
        assert reply.get("Response") == "Success", reply
        return client

    async def action(self, name: str, **fields: str) -> dict[str, str]:
        if self._task.done():
            raise ConnectionResetError("the AMI connection is closed")
        action_id = f"test-{next(self._ids)}"
        reply: asyncio.Future[dict[str, str]] = asyncio.get_running_loop().create_future()
        self._replies[action_id] = reply
        lines = [f"Action: {name}", f"ActionID: {action_id}"]
        lines += [f"{key}: {value}" for key, value in fields.items()]
        self._writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
        async with asyncio.timeout(AMI_WAIT):
            return await reply

    async def pause(self, *agents: str, paused: bool = True, queue: str = SUPPORT_QUEUE) -> None:
        for agent in agents:
            reply = await self.action(
                "QueuePause", Interface=f"PJSIP/{agent}", Queue=queue,
                Paused="true" if paused else "false",
            )  # fmt: skip
            assert reply.get("Response") == "Success", reply

    async def event(self, kind: str, **fields: str) -> dict[str, str]:
        """The first event of this kind since connecting whose fields start with these values
        (`DestChannel="PJSIP/agent1-"`)."""

        def matches(event: dict[str, str]) -> bool:
            return event.get("Event") == kind and all(
                event.get(key, "").startswith(value) for key, value in fields.items()
            )

        return await self.wait_for(matches, f"{kind} {fields}")

    async def wait_for(
        self, matches: Callable[[dict[str, str]], bool], what: str
    ) -> dict[str, str]:
        seen = 0
        try:
            async with asyncio.timeout(AMI_WAIT):
                while True:
                    for event in self.events[seen:]:
                        if matches(event):
                            return event
                    seen = len(self.events)
                    self._arrived.clear()
                    await self._arrived.wait()
        except TimeoutError:
            raise AssertionError(f"no AMI event {what} within {AMI_WAIT} s") from None

    async def close(self) -> None:
        self._task.cancel()
        self._writer.close()
        with contextlib.suppress(Exception):
            await self._writer.wait_closed()

    async def _read(self) -> None:
        with contextlib.suppress(asyncio.IncompleteReadError, OSError):
            await self._read_messages()
        for reply in self._replies.values():
            if not reply.done():
                reply.set_exception(ConnectionResetError("the AMI connection closed"))

    async def _read_messages(self) -> None:
        while True:
            block = (await self._reader.readuntil(b"\r\n\r\n")).decode(errors="replace")
            message: dict[str, str] = {}
            for line in block.split("\r\n"):
                key, sep, value = line.partition(": ")
                if sep:
                    message.setdefault(key, value)
            if "Response" in message:
                reply = self._replies.pop(message.get("ActionID", ""), None)
                if reply is not None and not reply.done():
                    reply.set_result(message)
            elif "Event" in message:
                self.events.append(message)
                self._arrived.set()
