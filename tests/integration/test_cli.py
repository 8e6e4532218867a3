"""`sticky-router` as an operator runs it: migrate, seed the demo, ask for decisions."""

from __future__ import annotations

import asyncio
import os
import shlex
import signal
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path

from devkit.demo import CUSTOMERS
from devkit.sandbox.postgres import LocalPostgres, free_port
from tests.integration.agi_peer import SANDBOX, full_variable_reply
from tests.integration.conftest import create_database

AGI_SECRET = "cli-test-agi-secret-0123"


def sticky_router(
    *args: str, stdin: str | None = None, **env: str
) -> subprocess.CompletedProcess[str]:
    """The command as an operator runs it: only the STICKY_* variables given here."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("STICKY_")}
    return subprocess.run(
        [sys.executable, "-m", "sticky_router.process.cli", *args],
        env={**clean, **env},
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def test_migrate_seed_and_decide_in_words(postgres: LocalPostgres) -> None:
    url = await create_database(postgres, "cli")
    env = {"STICKY_DATABASE_URL": url, "STICKY_LOG_FORMAT": "json"}
    migrated = sticky_router("migrate", **env)
    assert migrated.returncode == 0, migrated.stderr
    assert sticky_router("migrate", **env).returncode == 0  # a second run is a no-op
    seeded = sticky_router("seed-demo", **env)
    assert seeded.returncode == 0, seeded.stderr
    assert "4 agents" in seeded.stdout
    again = sticky_router("seed-demo", **env)
    assert again.returncode == 1
    assert "--reset" in again.stderr

    ivan = sticky_router("decide", "--cli", "+7 912 345-67-01", "--did", "+74950000000", **env)
    assert ivan.returncode == 0, ivan.stderr
    assert (
        "Candidate 1: last spoke with agent2 for 6 min, ended 42 min ago, window 120 min."
        in ivan.stdout
    )
    assert (
        "Decision: ring agent2 first (for up to 15 s); on any miss, queue support." in ivan.stdout
    )
    # The decision log line carries no caller number, normalised or as typed ("345" alone
    # also turns up inside a latency such as 14.345).
    for form in ("9123456701", "912 345-67-01", "345-67"):
        assert form not in ivan.stderr

    olga = sticky_router("decide", "--cli", "+79123456702", **env)
    assert "handed to specialist agent3" in olga.stdout

    anonymous = sticky_router("decide", "--cli", "Anonymous", "--account", "100206", **env)
    assert "Caller key: account 100206" in anonymous.stdout
    assert "window 240 min" in anonymous.stdout  # the VIP class's window

    as_json = sticky_router("decide", "--cli", "+79123456703", "--json", **env)
    assert '"reason": "window_expired"' in as_json.stdout


def test_demo_sandbox_explains_every_demo_caller() -> None:
    # Not pytest's tmp_path: as root the server runs as `postgres`, which cannot enter it.
    with tempfile.TemporaryDirectory(prefix="sticky-demo-") as directory:
        demo = sticky_router("demo", "--data-dir", directory, "--port", str(free_port()))
        assert demo.returncode == 0, demo.stderr
        assert demo.stdout.count("\n== ") == len(CUSTOMERS)
        assert "Decision: ring agent2 first" in demo.stdout
        assert "Decision: the caller is under a block" in demo.stdout
        assert not (Path(directory) / "cluster" / "postmaster.pid").exists()  # stopped


def test_configuration_errors_name_the_key_and_hide_the_password() -> None:
    missing = sticky_router("decide", "--cli", "+79123456701")
    assert missing.returncode == 2
    assert "STICKY_DATABASE_URL is not set" in missing.stderr

    bad = sticky_router(
        "migrate", STICKY_DATABASE_URL="mysql://root:s3cret-pw@db/x", STICKY_DB_BUDGET_MS="0"
    )
    assert bad.returncode == 2
    assert "STICKY_DATABASE_URL" in bad.stderr
    assert "STICKY_DB_BUDGET_MS" in bad.stderr
    assert "s3cret-pw" not in bad.stderr + bad.stdout


def test_unreachable_database_is_one_clear_line() -> None:
    result = sticky_router("migrate", STICKY_DATABASE_URL="postgresql://u:pw-x@127.0.0.1:1/db")
    assert result.returncode == 1
    assert "migrate failed" in result.stderr
    assert "Traceback" not in result.stderr
    assert "pw-x" not in result.stderr


async def test_agi_serves_lookups_and_stops_on_sigterm(postgres: LocalPostgres) -> None:
    """`sticky-router agi` as its own process: a lookup over a real socket, then SIGTERM."""
    url = await create_database(postgres, "cli_agi")
    env = {"STICKY_DATABASE_URL": url, "STICKY_LOG_FORMAT": "json"}
    assert sticky_router("migrate", **env).returncode == 0
    assert sticky_router("seed-demo", **env).returncode == 0
    refused = sticky_router("agi", **env)  # no secret: refuses to serve anyone
    assert refused.returncode != 0
    assert "STICKY_AGI_SECRET is not set" in refused.stderr + refused.stdout
    env["STICKY_AGI_SECRET"] = AGI_SECRET
    port, metrics_port = free_port(), free_port()
    env["STICKY_AGI_METRICS_PORT"] = str(metrics_port)
    clean = {k: v for k, v in os.environ.items() if not k.startswith("STICKY_")}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "sticky_router.process.cli", "agi", "--port", str(port),
        env={**clean, **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    try:
        variables = await _lookup_when_listening(port, "+79123456701")
        assert (variables["STICKY_ROUTE"], variables["STICKY_TARGET"]) == ("sticky", "agent2")
        scraped = await asyncio.to_thread(_get, f"http://127.0.0.1:{metrics_port}/metrics")
        sticky = 'sticky_router_calls_total{queue="support",reason="last_agent",route="sticky"}'
        assert f"{sticky} 1.0" in scraped
    finally:
        process.send_signal(signal.SIGTERM)
        raw, _ = await asyncio.wait_for(process.communicate(), 30)
    output = raw.decode()
    assert process.returncode == 0, output
    assert '"event": "agi_stopped"' in output
    assert '"event_loop": "uvloop"' in output  # the default loop of the services
    assert "9123456701" not in output  # no caller number in the logs
    assert AGI_SECRET not in output  # nor the secret


async def _lookup_when_listening(port: int, number: str) -> dict[str, str]:
    header = (
        f"agi_network: yes\nagi_network_script: lookup?secret={AGI_SECRET}\n"
        "agi_uniqueid: 1700000001.1\n"
        f"agi_callerid: {number}\nagi_channel: PJSIP/caller-00000001\nagi_arg_1: support\n\n"
    )
    for _ in range(100):
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            break
        except OSError:
            await asyncio.sleep(0.1)
    else:
        raise AssertionError(f"sticky-router agi never listened on {port}")
    writer.write(header.encode())
    variables: dict[str, str] = {}
    while line := await asyncio.wait_for(reader.readline(), 5):
        words = shlex.split(line.decode())
        if words[:3] == ["GET", "FULL", "VARIABLE"]:  # the lookup checks the agent
            writer.write(full_variable_reply(words[3], SANDBOX))
            continue
        variables[words[2].removeprefix("__")] = words[3]
        writer.write(b"200 result=1\n")
    writer.close()
    return variables


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:
        return str(response.read().decode())
