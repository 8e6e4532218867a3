"""Dynamic members logging in and out during a shift by feature code from their own phone (*45
in, *46 out, *47 pause with a reason, *48 back): the router follows each change from the next
call on, reading membership and pause per call. Plain Asterisk with PJSIP members; the same on a
FreePBX-style line is tests/flavours/test_freepbx_feature_codes.py."""

from __future__ import annotations

from pathlib import Path

import asyncpg
import pytest

from devkit.sandbox.asterisk import LocalAsterisk
from tests.e2e.shift import a_shift_of_agent2_by_feature_code

pytestmark = pytest.mark.usefixtures("fresh")


async def test_agent2_logging_out_pausing_and_back_by_feature_code_is_followed_call_by_call(
    asterisk: LocalAsterisk, pool: asyncpg.Pool, phone_logs: Path
) -> None:
    await a_shift_of_agent2_by_feature_code(asterisk, pool, phone_logs)


@pytest.mark.usefixtures("agi")
async def test_the_same_shift_is_followed_in_fastagi_mode(
    asterisk: LocalAsterisk, pool: asyncpg.Pool, phone_logs: Path
) -> None:
    await a_shift_of_agent2_by_feature_code(asterisk, pool, phone_logs, dialled="agi")
