"""Values the dialplan reads, refused where they are stored: the admin API's patterns and the
database's own constraints (migration 0008), on a real PostgreSQL."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from devkit.sandbox.postgres import LocalPostgres
from sticky_router.process import database
from tests.integration.conftest import create_database

# Dial(PJSIP/agent2&PJSIP/agent3) rings a second phone; Dial(PJSIP/agent2,30,D(...)) sends
# DTMF; the rest end an argument or open an expression.
HOSTILE_ENDPOINTS = [
    "PJSIP/agent2&PJSIP/agent3",
    "PJSIP/agent2,30,D(1234)",
    "PJSIP/agent2)",
    "PJSIP/${EXTEN}",
]


@pytest.mark.parametrize("endpoint", HOSTILE_ENDPOINTS)
@pytest.mark.usefixtures("fresh")
async def test_the_database_refuses_an_endpoint_that_is_not_one_device(
    pool: asyncpg.Pool, endpoint: str
) -> None:
    with pytest.raises(asyncpg.CheckViolationError):
        await pool.execute("UPDATE agents SET endpoint = $1 WHERE name = 'agent2'", endpoint)
    assert await pool.fetchval("SELECT endpoint FROM agents WHERE name = 'agent2'") == (
        "PJSIP/agent2"
    )


@pytest.mark.usefixtures("fresh")
async def test_one_device_of_any_technology_is_still_accepted(pool: asyncpg.Pool) -> None:
    """The other side: FreePBX-style Local members and SIP URIs are single devices."""
    async with pool.acquire() as connection:
        transaction = connection.transaction()
        await transaction.start()
        try:
            for endpoint in ("Local/101@from-queue/n", "PJSIP/agent2/sip:agent2@10.0.0.5:5062"):
                status = await connection.execute(
                    "UPDATE agents SET endpoint = $1 WHERE name = 'agent2'", endpoint
                )
                assert status == "UPDATE 1"
        finally:
            await transaction.rollback()


@pytest.mark.parametrize(
    ("kind", "destination"),
    [("message", "beep):System(touch /tmp/x #"), ("message", "a&b"), ("queue", "support,r"),
     ("queue", "second-line)")],
)  # fmt: skip
async def test_the_database_refuses_a_block_destination_unsafe_for_the_dialplan(
    pool: asyncpg.Pool, kind: str, destination: str
) -> None:
    with pytest.raises(asyncpg.CheckViolationError):
        await pool.execute(
            "INSERT INTO caller_blocks (e164, reason, destination_kind, destination, set_by,"
            " expires_at) VALUES ('+79990000001', 'test', $1, $2, 'security', now() + '1 day')",
            kind, destination,
        )  # fmt: skip
    assert await pool.fetchval("SELECT count(*) FROM caller_blocks WHERE set_by = 'security'") == 0


async def test_the_upgrade_stops_on_an_unsafe_endpoint_and_names_the_agent(
    postgres: LocalPostgres,
) -> None:
    """An installation that stored `&` before 0008 is told which agent to fix; nothing changes
    until it is fixed, then the upgrade goes through."""
    url = await create_database(postgres, "unsafe_endpoints")
    await asyncio.to_thread(database.upgrade, url, "0007")
    connection = await asyncpg.connect(url)
    try:
        await connection.execute(
            "INSERT INTO agents (name, display_name, endpoint) VALUES"
            " ('mallory', 'Mallory', 'PJSIP/agent2&PJSIP/9001')"
        )
        with pytest.raises(Exception, match="mallory"):
            await asyncio.to_thread(database.upgrade, url, "0008")
        version = await connection.fetchval("SELECT version_num FROM alembic_version")
        assert version == "0007"
        await connection.execute("UPDATE agents SET endpoint = 'PJSIP/mallory'")
        await asyncio.to_thread(database.upgrade, url, "0008")
        assert await connection.fetchval("SELECT version_num FROM alembic_version") == "0008"
    finally:
        await connection.close()
