"""The agents as a FreePBX line's admin tells the router about them (docs/pbx-flavours.md)."""

from __future__ import annotations

import asyncpg

from sticky_router.process.sandbox.asterisk import AGENTS, agent_identity


async def identify_freepbx_agents(pool: asyncpg.Pool) -> None:
    """The demo agents come with plain endpoints: give each the sandbox's FreePBX identity (the
    Local channel to dial, the hint, the phones behind it)."""
    for agent in AGENTS:
        known = agent_identity(agent, "freepbx")
        await pool.execute(
            "UPDATE agents SET endpoint = $2, queue_interface = $3, state_interface = $4,"
            " devices = $5 WHERE name = $1",
            agent, known.endpoint, known.queue_interface, known.state_interface,
            list(known.devices),
        )  # fmt: skip
