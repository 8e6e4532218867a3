"""The FastAGI server over a real socket on 127.0.0.1: broken, slow, idle and hostile peers.

Every bad connection leaves exactly one log line and never touches the other connections.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Iterator, MutableMapping
from typing import Any

import pytest
import structlog

from sticky_router.agi.peers import LOOPBACK, PeerPolicy
from sticky_router.agi.protocol import AgiSession
from sticky_router.agi.server import AgiServer

SECRET = "unit-test-secret-0123"
PEERS = PeerPolicy.of(LOOPBACK, SECRET)
HEADER = (
    b"agi_network: yes\nagi_network_script: echo?secret=unit-test-secret-0123\n"
    b"agi_uniqueid: 1700000000.1\nagi_arg_1: hi\n\n"
)
HEADER_TIMEOUT = 0.5
Logs = list[MutableMapping[str, Any]]


async def echo(session: AgiSession) -> None:
    await session.set_variable("SEEN", session.request.arg(1))
    await session.set_variable("DONE", "1")


async def broken(session: AgiSession) -> None:
    raise RuntimeError("a bug in a script")


@pytest.fixture
async def server() -> AsyncIterator[AgiServer]:
    agi = AgiServer(
        {"echo": echo, "broken": broken},
        "127.0.0.1",
        0,
        PEERS,
        header_timeout=HEADER_TIMEOUT,
        command_timeout=0.5,
        max_connections=3,
    )
    await agi.start()
    yield agi
    await agi.stop(grace=1)


@pytest.fixture
def logs() -> Iterator[Logs]:
    with structlog.testing.capture_logs() as captured:
        yield captured


async def asterisk(port: int, header: bytes, answer: bytes = b"200 result=1\n") -> list[str]:
    """A well-behaved Asterisk: send the header, answer every command, until the server closes."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(header)
    await writer.drain()
    commands = []
    try:
        while line := await asyncio.wait_for(reader.readline(), 5):
            commands.append(line.decode().rstrip("\n"))
            writer.write(answer)
            await writer.drain()
    finally:
        writer.close()
    return commands


async def closed_by_server(reader: asyncio.StreamReader, within: float) -> float:
    """Seconds until the server closed our connection (reads EOF)."""
    started = time.perf_counter()
    with contextlib.suppress(ConnectionError):
        while await asyncio.wait_for(reader.read(65536), within):
            pass
    return time.perf_counter() - started


async def settled(server: AgiServer, logs: Logs, lines: int = 1) -> None:
    """Wait until the server let go of every connection and wrote its lines."""
    for _ in range(200):
        if server.active_connections == 0 and len(logs) >= lines:
            break
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.05)  # a second line, if any, would show up now


async def test_a_normal_conversation_runs_the_script_and_closes(
    server: AgiServer, logs: Logs
) -> None:
    commands = await asterisk(server.port, HEADER)
    assert commands == ['SET VARIABLE "SEEN" "hi"', 'SET VARIABLE "DONE" "1"']
    await settled(server, logs, lines=0)
    assert logs == []


async def test_connect_and_close_leaves_one_line_and_no_spinning(
    server: AgiServer, logs: Logs
) -> None:
    _, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.close()
    await settled(server, logs)
    assert [(e["event"], e["reason"]) for e in logs] == [("agi_bad_header", "closed")]
    assert "peer" in logs[0]


async def test_a_half_sent_header_times_out_within_the_header_timeout(
    server: AgiServer, logs: Logs
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(b"agi_network: yes\nagi_network_scr")
    await writer.drain()
    waited = await closed_by_server(reader, within=3)
    writer.close()
    assert HEADER_TIMEOUT * 0.8 < waited < HEADER_TIMEOUT + 0.5
    await settled(server, logs)
    assert [(e["event"], e["reason"]) for e in logs] == [("agi_bad_header", "timeout")]


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"agi_network: " + b"x" * 10000 + b"\n\n", "line_too_long"),
        (
            b"".join(b"agi_v%d: %s\n" % (i, b"x" * 4000) for i in range(40)) + b"\n",
            "header_too_large",
        ),
        (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\n\n", "malformed_line"),
        (b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", "malformed_line"),
        (b"agi_network: yes", "truncated"),
    ],
)
async def test_a_bad_header_is_closed_with_one_line(
    server: AgiServer, logs: Logs, data: bytes, reason: str
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    with contextlib.suppress(ConnectionError):
        writer.write(data)
        await writer.drain()
        writer.write_eof()
    assert await closed_by_server(reader, within=2) < 1
    writer.close()
    await settled(server, logs)
    assert [(e["event"], e["reason"]) for e in logs] == [("agi_bad_header", reason)]


async def test_an_unknown_script_is_logged_once_and_closed(server: AgiServer, logs: Logs) -> None:
    commands = await asterisk(server.port, HEADER.replace(b"echo", b"rm-rf"))
    assert commands == []
    await settled(server, logs)
    assert [(e["event"], e["script"]) for e in logs] == [("agi_unknown_script", "rm-rf")]


async def test_a_failing_script_is_logged_once_and_closed(server: AgiServer, logs: Logs) -> None:
    await asterisk(server.port, HEADER.replace(b"echo", b"broken"))
    await settled(server, logs)
    assert [e["event"] for e in logs] == ["agi_script_failed"]


@pytest.mark.parametrize(
    ("answer", "how"),
    [(b"", "closed"), (b"HANGUP\n", "hangup"), (b"511 Command Not Permitted\n", "dead_channel")],
)
async def test_the_caller_gone_mid_command_ends_the_conversation(
    server: AgiServer, logs: Logs, answer: bytes, how: str
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(HEADER)
    await writer.drain()
    assert (await asyncio.wait_for(reader.readline(), 2)).startswith(b"SET VARIABLE")
    if answer:
        writer.write(answer)
        await writer.drain()
    else:
        writer.close()  # hung up: the server's SET VARIABLE reads end of stream
    await settled(server, logs)
    writer.close()
    assert [(e["event"], e["how"]) for e in logs] == [("agi_caller_gone", how)]


async def test_an_asterisk_that_never_answers_times_the_command_out(
    server: AgiServer, logs: Logs
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(HEADER)
    await writer.drain()
    assert await closed_by_server(reader, within=3) < 1.5
    writer.close()
    await settled(server, logs)
    assert [e["event"] for e in logs] == ["agi_command_timeout"]


async def test_a_slow_client_does_not_hold_up_a_normal_one(server: AgiServer, logs: Logs) -> None:
    async def dribble() -> None:
        _, writer = await asyncio.open_connection("127.0.0.1", server.port)
        with contextlib.suppress(ConnectionError):
            for byte in HEADER:
                writer.write(bytes([byte]))
                await writer.drain()
                await asyncio.sleep(0.1)
        writer.close()

    slow = asyncio.create_task(dribble())
    await asyncio.sleep(0.15)
    started = time.perf_counter()
    commands = await asterisk(server.port, HEADER)
    took = time.perf_counter() - started
    assert commands == ['SET VARIABLE "SEEN" "hi"', 'SET VARIABLE "DONE" "1"']
    assert took < 0.2
    await slow
    await settled(server, logs)
    # The dribbler's header could not arrive within the header timeout.
    assert [(e["event"], e["reason"]) for e in logs] == [("agi_bad_header", "timeout")]


async def test_an_idle_client_costs_no_cpu() -> None:
    agi = AgiServer({"echo": echo}, "127.0.0.1", 0, PEERS, header_timeout=5, command_timeout=5)
    await agi.start()
    try:
        idle = [await asyncio.open_connection("127.0.0.1", agi.port) for _ in range(3)]
        half = idle[0][1]
        half.write(b"agi_network: yes\n")
        await asyncio.sleep(0.1)
        cpu = time.process_time()
        await asyncio.sleep(1)
        assert time.process_time() - cpu < 0.2
        assert agi.active_connections == 3
        for _, writer in idle:
            writer.close()
    finally:
        await agi.stop(grace=1)


async def test_connections_over_the_limit_are_refused_with_one_line(
    logs: Logs,
) -> None:
    agi = AgiServer({"echo": echo}, "127.0.0.1", 0, PEERS, header_timeout=5, max_connections=2)
    await agi.start()
    try:
        held = [await asyncio.open_connection("127.0.0.1", agi.port) for _ in range(2)]
        for _ in range(100):
            if agi.active_connections == 2:
                break
            await asyncio.sleep(0.01)
        logs.clear()  # agi_listening
        for _ in range(3):
            reader, writer = await asyncio.open_connection("127.0.0.1", agi.port)
            assert await closed_by_server(reader, within=2) < 1
            writer.close()
        assert agi.active_connections == 2
        assert [e["event"] for e in logs] == ["agi_too_many_connections"]
        for _, writer in held:
            writer.close()
        for _ in range(100):
            if agi.active_connections == 0:
                break
            await asyncio.sleep(0.01)
        logs.clear()
        commands = await asterisk(agi.port, HEADER)
        assert commands == ['SET VARIABLE "SEEN" "hi"', 'SET VARIABLE "DONE" "1"']
    finally:
        await agi.stop(grace=1)


async def test_stop_cuts_conversations_that_outlive_the_grace() -> None:
    agi = AgiServer({"echo": echo}, "127.0.0.1", 0, PEERS, header_timeout=30)
    await agi.start()
    reader, writer = await asyncio.open_connection("127.0.0.1", agi.port)
    await asyncio.sleep(0.05)
    started = time.perf_counter()
    await agi.stop(grace=0.2)
    assert time.perf_counter() - started < 1
    assert await closed_by_server(reader, within=1) < 1
    writer.close()
    assert agi.active_connections == 0
