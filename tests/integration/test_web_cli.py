"""The web accounts from the command line: add an admin, set passwords from stdin (never argv)."""

from __future__ import annotations

import asyncio

import asyncpg

from devkit.sandbox.postgres import LocalPostgres
from sticky_router.process.demo_cli import sandbox_sign_in
from sticky_router.web.auth.passwords import verify_password
from sticky_router.web.settings import WebSettings
from tests.integration.conftest import create_database
from tests.integration.test_cli import sticky_router


async def test_add_admin_and_set_passwords_from_stdin(postgres: LocalPostgres) -> None:
    url = await create_database(postgres, "web_cli")
    env = {"STICKY_DATABASE_URL": url}
    assert sticky_router("migrate", **env).returncode == 0
    assert sticky_router("seed-demo", **env).returncode == 0

    created = sticky_router("add-admin", "boss", "--display-name", "The Boss", **env)
    assert created.returncode == 0, created.stderr
    again = sticky_router("add-admin", "boss", **env)
    assert again.returncode == 2
    assert "exists already" in again.stderr

    admin = sticky_router("set-password", "admin", "boss", stdin="admin-password-1\n", **env)
    assert admin.returncode == 0, admin.stderr
    agent = sticky_router("set-password", "agent", "agent2", stdin="agent2-password\n", **env)
    assert agent.returncode == 0, agent.stderr
    assert "agent2-password" not in agent.stdout + agent.stderr

    weak = sticky_router("set-password", "agent", "agent2", stdin="short\n", **env)
    assert weak.returncode == 2
    assert "at least 8 characters" in weak.stderr
    unknown = sticky_router("set-password", "agent", "nobody", stdin="long-enough-1\n", **env)
    assert unknown.returncode == 2
    assert "no agent named 'nobody'" in unknown.stderr

    connection = await asyncpg.connect(url)
    try:
        agent_hash = await connection.fetchval(
            "SELECT password_hash FROM agents WHERE name = 'agent2'"
        )
        admin_hash = await connection.fetchval(
            "SELECT password_hash FROM admin_users WHERE name = 'boss'"
        )
    finally:
        await connection.close()
    assert verify_password(agent_hash, "agent2-password")  # the weak one changed nothing
    assert verify_password(admin_hash, "admin-password-1")


async def test_the_sandbox_prints_the_screens_address_and_working_demo_passwords(
    postgres: LocalPostgres,
) -> None:
    url = await create_database(postgres, "web_sandbox")
    assert sticky_router("migrate", STICKY_DATABASE_URL=url).returncode == 0
    assert sticky_router("seed-demo", STICKY_DATABASE_URL=url).returncode == 0
    printed = await asyncio.to_thread(sandbox_sign_in, url, WebSettings(port=8091))
    assert "Agent screen: http://127.0.0.1:8091/agent/" in printed
    rows = [line.split() for line in printed.splitlines() if line.startswith("  ")]
    accounts = {name: (kind, password) for kind, name, password in rows}
    assert set(accounts) == {"agent1", "agent2", "agent3", "agent4", "supervisor"}
    connection = await asyncpg.connect(url)
    try:
        for name, (kind, password) in accounts.items():
            table = "agents" if kind == "agent" else "admin_users"
            stored = await connection.fetchval(
                f"SELECT password_hash FROM {table} WHERE name = $1", name
            )
            assert verify_password(stored, password), name
    finally:
        await connection.close()
