"""`./scripts/run --sandbox-flavour freepbx`: the sandbox a newcomer starts for a FreePBX-style
line tells them about agent2's second phone and knows its agents the FreePBX way."""

from __future__ import annotations

import asyncio

import asyncpg

from devkit.sandbox.stack import Sandbox, prepare_database


def test_the_freepbx_sandbox_names_the_softphone_and_its_agents_are_known_by_hint(
    sandbox: Sandbox,
) -> None:
    said = sandbox.how_to_call()
    assert "FreePBX-style" in said
    assert f"-p {sandbox.asterisk.agent_port('agent2soft')} " in said
    assert "-s 74950000001 " in said  # the FastAGI line's own inbound route
    prepare_database(sandbox.postgres.dsn, "freepbx")

    async def agents() -> list[asyncpg.Record]:
        connection = await asyncpg.connect(sandbox.postgres.dsn)
        try:
            return await connection.fetch(
                "SELECT name, endpoint, queue_interface, state_interface, devices FROM agents"
                " WHERE name IN ('agent1', 'agent2') ORDER BY name"
            )
        finally:
            await connection.close()

    assert [tuple(r) for r in asyncio.run(agents())] == [
        ("agent1", "Local/101@from-queue-exten-only/n", "Local/101@from-queue/n",
         "hint:101@ext-local", ["PJSIP/agent1"]),
        ("agent2", "Local/102@from-queue-exten-only/n", "Local/102@from-queue/n",
         "hint:102@ext-local", ["PJSIP/agent2", "PJSIP/agent2soft"]),
    ]  # fmt: skip
