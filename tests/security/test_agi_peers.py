"""The FastAGI port against peers that are not our Asterisk: a real AgiServer (the `agi`
process, as `sticky-router agi` runs it) on real PostgreSQL, attacked over a real socket.

A peer must be on the allow-list of Asterisk addresses AND carry the shared secret in the AGI
URL; anything else is cut before a single command, with one log line and a metric, and nothing
is read from or written to the database on its behalf.
"""

from __future__ import annotations

import asyncpg
import pytest
from structlog.testing import capture_logs

from sticky_router.process.agi_process import AgiProcess
from tests.integration.agi_peer import asterisk

IVAN = "+79123456701"  # demo data: last spoke with agent2, ticket T-1001


def caller(call_id: str, number: str = IVAN) -> dict[str, str]:
    return {"uniqueid": call_id, "callerid": number, "channel": "PJSIP/caller-00000001"}


def refused(agi: AgiProcess, reason: str) -> float:
    value = agi.metrics.registry.get_sample_value(
        "sticky_router_agi_refused_connections_total", {"reason": reason}
    )
    return value or 0.0


async def settle(agi: AgiProcess) -> None:
    """What the scripts learned is written aside: let it reach PostgreSQL."""
    assert await agi.quiesce(5)


async def nothing_recorded(pool: asyncpg.Pool, call_id: str) -> None:
    assert await pool.fetchval("SELECT count(*) FROM interactions WHERE call_id = $1", call_id) == 0
    claims = await pool.fetchval("SELECT count(*) FROM sticky_claims WHERE released_at IS NULL")
    assert claims == 0


@pytest.mark.parametrize("secret", ["", "not-the-secret"], ids=["no secret", "wrong secret"])
async def test_a_lookup_without_the_secret_is_cut_before_any_command(
    agi: AgiProcess, pool: asyncpg.Pool, secret: str
) -> None:
    assert agi.server is not None
    before = refused(agi, "secret")
    with capture_logs() as logs:
        told = await asterisk(agi.server.port, "lookup", caller("forged.1"), secret=secret)
    await settle(agi)
    assert told == {}  # not the customer's name, ticket, agent: not even STICKY_ROUTE
    await nothing_recorded(pool, "forged.1")
    lines = [line for line in logs if line["event"] == "agi_peer_refused"]
    assert [(line["reason"], line["script"]) for line in lines] == [("secret", "lookup")]
    assert secret not in str(lines) or not secret  # the line names the peer, never the secret
    assert refused(agi, "secret") == before + 1


async def test_a_peer_outside_the_allow_list_is_cut_even_with_the_secret(
    agi: AgiProcess, pool: asyncpg.Pool
) -> None:
    """127.0.0.2 is this host too, but not the address the allow-list names (127.0.0.1)."""
    assert agi.server is not None
    before = refused(agi, "address")
    with capture_logs() as logs:
        told = await asterisk(
            agi.server.port, "lookup", caller("forged.2"), secret=agi.settings.secret or "",
            source="127.0.0.2",
        )  # fmt: skip
    await settle(agi)
    assert told == {}
    await nothing_recorded(pool, "forged.2")
    assert [line["reason"] for line in logs if line["event"] == "agi_peer_refused"] == ["address"]
    assert refused(agi, "address") == before + 1


async def test_our_asterisk_with_the_secret_gets_the_decision(
    agi: AgiProcess, pool: asyncpg.Pool
) -> None:
    """The other side of the refusals above: the allowed address with the secret is served."""
    assert agi.server is not None
    assert agi.settings.secret
    told = await asterisk(agi.server.port, "lookup", caller("real.1"), secret=agi.settings.secret)
    assert (told["STICKY_ROUTE"], told["STICKY_TARGET"]) == ("sticky", "agent2")


async def test_forged_answered_and_ended_reports_cannot_choose_the_last_agent(
    agi: AgiProcess, pool: asyncpg.Pool
) -> None:
    """A real call is under way (real.2); a forger claims agent3 answered it and it ended, which
    would make agent3 the customer's "last agent" for the next callback."""
    assert agi.server is not None
    assert agi.settings.secret
    await asterisk(agi.server.port, "lookup", caller("real.2"), secret=agi.settings.secret)
    agent3 = {"uniqueid": "forged.3", "channel": "PJSIP/agent3-0000000a"}
    await asterisk(agi.server.port, "answered", agent3, "real.2")
    await asterisk(agi.server.port, "agent-ended", agent3, "real.2", "PJSIP/caller-00000001")
    await asterisk(agi.server.port, "ended", caller("real.2"), "PJSIP/caller-00000001", "0")
    await settle(agi)
    legs = await pool.fetch(
        "SELECT a.name FROM interaction_legs l JOIN agents a ON a.id = l.agent_id"
        " JOIN interactions i ON i.id = l.interaction_id WHERE i.call_id = 'real.2'"
    )
    assert legs == []
    ended = await pool.fetchval("SELECT ended_at FROM interactions WHERE call_id = 'real.2'")
    assert ended is None  # the forged end did not end the real call either


async def test_dial_statuses_from_a_peer_cannot_grow_the_metric_series(
    agi: AgiProcess, pool: asyncpg.Pool
) -> None:
    """Even our own Asterisk's words are bounded: 20 made-up DIALSTATUS values make at most one
    series beside Asterisk's own statuses, not 20."""
    assert agi.server is not None
    assert agi.settings.secret
    secret = agi.settings.secret
    for n in range(20):
        call_id = f"labels.{n}"
        await asterisk(
            agi.server.port, "lookup", caller(call_id, f"+7900000{n:04d}"), secret=secret
        )
        await asterisk(
            agi.server.port, "result", caller(call_id, f"+7900000{n:04d}"),
            f"MADEUP{n}", "agent1", "3", "", f"leg.{n}", "16", secret=secret,
        )  # fmt: skip
    await settle(agi)
    body, _ = agi.metrics.exposition()
    series = [
        line for line in body.decode().splitlines()
        if line.startswith("sticky_router_ring_attempts_total{")
    ]  # fmt: skip
    assert not any("madeup" in line for line in series), series
    assert len(series) <= 1 + 9  # "other" and Asterisk's nine DIALSTATUS values at most
