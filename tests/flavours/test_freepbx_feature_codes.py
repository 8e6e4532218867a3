"""agent2's shift on a FreePBX-style line: the sandbox's feature codes add and remove the Local
member with its hint (*45, *46) and pause it (*47, *48); the router follows each change from the
next call on."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import pytest

from devkit.sandbox.asterisk import LocalAsterisk
from devkit.sandbox.asterisk_config import FREEPBX_AGI_DID
from devkit.sandbox.stack import identify_agents
from tests.e2e.shift import a_shift_of_agent2_by_feature_code


async def test_agent2_logging_out_pausing_and_back_by_feature_code_is_followed_call_by_call(
    asterisk: LocalAsterisk, pool: asyncpg.Pool, phone_logs: Path
) -> None:
    await a_shift_of_agent2_by_feature_code(asterisk, pool, phone_logs)
    shown = await asyncio.to_thread(asterisk.cli, f"queue show {asterisk.queue}")
    assert "Local/102@from-queue/n from hint:102@ext-local" in shown


@pytest.mark.usefixtures("agi")
async def test_the_same_shift_is_followed_in_fastagi_mode(
    asterisk: LocalAsterisk, pool: asyncpg.Pool, phone_logs: Path
) -> None:
    await identify_agents(pool, "freepbx")  # `agi` reloaded the demo agents
    await a_shift_of_agent2_by_feature_code(asterisk, pool, phone_logs, dialled=FREEPBX_AGI_DID)
