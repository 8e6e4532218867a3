"""The wheel runs the line: the installed `sticky-router run` (the wheel and its dependencies on
the path, nothing of this checkout) against a sandbox Asterisk 22 and PostgreSQL routes Ivan's
callback to agent2 with SIPp phones on uvloop, records it, counts it on /metrics, and stops
cleanly on SIGTERM, the way systemd stops it (ops/systemd)."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest

from devkit.sandbox.asterisk_config import ARI_APP
from devkit.sandbox.stack import Sandbox, throwaway_sandbox
from testkit.chromium import free_tcp_port
from testkit.sipp import assert_calls_succeeded
from testkit.waiting import eventually
from tests.e2e.phones import AgentPhones, call
from tests.e2e.records import settled
from tests.ops.wheel import (
    installed_command,
    installed_environment,
    seed_demo_from_the_checkout,
)

IVAN = "79123456701"  # the demo: last helped by agent2 42 minutes ago


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with throwaway_sandbox("wheel", phone_ports_from=49000) as stack:
        yield stack


def router_environment(
    installed: Path, sandbox: Sandbox, journals: Path, web_port: int
) -> dict[str, str]:
    """What an operator writes into /etc/sticky-router/router.env for this Asterisk."""
    asterisk = sandbox.asterisk
    ari, ami = asterisk.ari_credentials, asterisk.ami_credentials
    return installed_environment(
        installed,
        STICKY_DATABASE_URL=sandbox.postgres.dsn,
        STICKY_ARI_URL=f"http://127.0.0.1:{asterisk.http_port}",
        STICKY_ARI_USER=ari.user,
        STICKY_ARI_PASSWORD=ari.password,
        STICKY_ARI_APP=ARI_APP,
        STICKY_AMI_PORT=str(asterisk.ami_port),
        STICKY_AMI_USER=ami.user,
        STICKY_AMI_PASSWORD=ami.password,
        STICKY_JOURNAL_DIR=str(journals),
        STICKY_WEB_PORT=str(web_port),
        STICKY_LOG_LEVEL="info",
    )


def sticky_calls_counted(web_port: int) -> float:
    with urllib.request.urlopen(f"http://127.0.0.1:{web_port}/metrics", timeout=5) as answer:
        text = answer.read().decode()
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("sticky_router_calls_total{") and 'route="sticky"' in line
    )


async def test_the_installed_router_routes_a_callback_and_stops_on_sigterm(
    installed: Path, sandbox: Sandbox, tmp_path: Path
) -> None:
    seeded = seed_demo_from_the_checkout(sandbox.postgres.dsn)
    assert seeded.returncode == 0, seeded.stderr
    await asyncio.to_thread(sandbox.asterisk.log_in_agents)
    web_port = free_tcp_port()
    environment = router_environment(installed, sandbox, tmp_path / "journal", web_port)
    log = tmp_path / "router.log"
    with log.open("w") as output:
        router = await asyncio.create_subprocess_exec(
            *installed_command("run"), cwd=installed, env=environment,
            stdout=output, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:

        async def connected() -> bool:
            assert router.returncode is None, f"the router exited:\n{log.read_text()}"
            return "ari_connected" in log.read_text()

        await eventually(connected, 30)
        # The wheel brought uvloop, and the router serves on it (process/event_loop.py).
        assert "event_loop=uvloop" in log.read_text()
        phones = tmp_path / "sipp"
        with AgentPhones(sandbox.asterisk, phones, {"agent2": "uas_answer.xml"}) as agents:
            assert_calls_succeeded(await call(sandbox.asterisk, phones, caller_id=IVAN))
        assert agents.rung() == {"agent1": 0, "agent2": 1, "agent3": 0, "agent4": 0}
        pool = await asyncpg.create_pool(sandbox.postgres.dsn, min_size=1, max_size=1)
        try:
            recorded = await settled(pool, IVAN)
        finally:
            await pool.close()
        assert (recorded["route"], recorded["route_reason"]) == ("sticky", "last_agent")
        assert sticky_calls_counted(web_port) == 1
    finally:
        router.send_signal(signal.SIGTERM)
        stopped = await asyncio.wait_for(router.wait(), 30)
    assert stopped == 0, log.read_text()
    assert "router_stopped" in log.read_text()
    assert "Traceback" not in log.read_text()
