"""A FreePBX-style PBX (the sandbox's `freepbx` flavour): agents are queue members as Local
channels into the PBX's from-queue context, their state read from the extension's hint, and
agent2 has two phones behind extension 102 (a desk phone and a softphone). The e2e suite's
fixtures (`fresh`, `router`, `pool`, ...) resolve against this package's own sandbox."""

from __future__ import annotations

from collections.abc import Iterator

import asyncpg
import pytest

from devkit.sandbox.stack import Sandbox, identify_agents, throwaway_sandbox
from tests.e2e.conftest import (  # noqa: F401
    agi,
    asterisk,
    fresh,
    phone_logs,
    pool,
    postgres,
    router,
)


@pytest.fixture(scope="package")
def sandbox() -> Iterator[Sandbox]:
    with throwaway_sandbox("freepbx", phone_ports_from=47000, flavour="freepbx") as stack:
        yield stack


@pytest.fixture(autouse=True)
async def freepbx_agents(fresh: object, pool: asyncpg.Pool) -> None:  # noqa: F811
    """`fresh` reloaded the demo agents with plain endpoints (so does `agi`: a FastAGI test
    identifies them again after it)."""
    await identify_agents(pool, "freepbx")
