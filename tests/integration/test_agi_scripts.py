"""The FastAGI scripts through the real AgiServer and the core on a real PostgreSQL.

A small fake Asterisk sends the AGI header, answers `200 result=1` to every SET VARIABLE and
evaluates GET FULL VARIABLE from a table of what the sandbox's Asterisk says (every agent in the
queue, nobody paused, every phone free) unless a test says otherwise; what it was told is what
a dialplan would see.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from devkit.demo import seed_demo
from sticky_router.agi.peers import LOOPBACK, PeerPolicy
from sticky_router.agi.scripts import AgiScripts
from sticky_router.agi.server import AgiServer
from sticky_router.routing_core import CallRecorder, RoutingService
from sticky_router.routing_core.store.applier import JournalApplier
from sticky_router.routing_core.store.journal import Journal
from tests.factories import unpacked
from tests.integration.agi_peer import asterisk as play_asterisk

IVAN = "+79123456701"
SECRET = "integration-secret-0123"


async def asterisk(
    port: int, script: str, env: dict[str, str], *args: str, **kw: Any
) -> dict[str, str]:
    """Our Asterisk: the allowed address, the secret in the URL."""
    return await play_asterisk(port, script, env, *args, secret=SECRET, **kw)


class Agi:
    """A running AgiServer with the three scripts on a routing core."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        journal_dir: Path,
        budget: float = 5.0,
        record_timeout: float = 2.0,
    ) -> None:
        self.routing = RoutingService(pool, default_region="RU", db_budget_seconds=budget)
        self.journal = Journal.open(journal_dir / "agi.journal")
        self.applier = JournalApplier(self.journal, CallRecorder(pool))
        self.scripts = AgiScripts(self.routing, self.journal, record_timeout=record_timeout)
        self.server = AgiServer(
            self.scripts.handlers(), "127.0.0.1", 0, PeerPolicy.of(LOOPBACK, SECRET),
            header_timeout=2,
        )  # fmt: skip

    async def start(self) -> None:
        await self.server.start()
        self.applier.start()

    async def stop(self) -> None:
        await self.server.stop(grace=1)
        await self.applier.stop()
        await self.journal.close()

    async def run(
        self,
        script: str,
        env: dict[str, str],
        *args: str,
        functions: dict[str, str] | None = None,
        asked: list[str] | None = None,
    ) -> dict[str, str]:
        variables = await asterisk(
            self.server.port, script, env, *args, functions=functions, asked=asked
        )
        await self.scripts.drain()  # the records are written aside: wait for them here
        assert await self.applier.drain(5)  # and applied from the journal
        return variables


@pytest.fixture
async def agi(db: asyncpg.Pool, tmp_path: Path) -> AsyncIterator[Agi]:
    await seed_demo(db, datetime.now(UTC), reset=True)
    running = Agi(db, tmp_path)
    await running.start()
    yield running
    await running.stop()


def caller(call_id: str, number: str) -> dict[str, str]:
    return {"uniqueid": call_id, "callerid": number, "channel": "PJSIP/caller-00000001"}


async def test_lookup_for_ivan_rings_agent2(agi: Agi, db: asyncpg.Pool) -> None:
    variables = await agi.run("lookup", caller("1700000000.1", IVAN), "support", "74950000000")
    assert variables["STICKY_ROUTE"] == "sticky"
    assert variables["STICKY_TARGET"] == "agent2"  # the name, as in ARI mode
    assert variables["STICKY_TARGET_ENDPOINT"] == "PJSIP/agent2"
    assert variables["STICKY_REASON"] == "last_agent"
    assert variables["STICKY_RING_TIMEOUT"] == "15"
    assert variables["STICKY_ANNOUNCE"] == "1"
    assert variables["STICKY_ANNOUNCE_SOUND"] == "sticky-router/connecting-to-your-agent"
    assert variables["STICKY_CALL_ID"] == "1700000000.1"
    assert variables["TICKET_ID"] == "T-1001"
    assert list(variables)[-1] == "STICKY_ROUTE"  # set last: a cut conversation has no route
    row = await db.fetchrow(
        "SELECT i.route, i.did, a.name FROM interactions i "
        "JOIN agents a ON a.id = i.target_agent_id WHERE call_id = $1",
        "1700000000.1",
    )
    assert row is not None
    assert tuple(row) == ("sticky", "74950000000", "agent2")


@pytest.mark.parametrize(
    ("number", "reason"), [("+79001112233", "no_history"), ("unknown", "no_caller_key")]
)
async def test_lookup_for_a_caller_without_history_queues(
    agi: Agi, db: asyncpg.Pool, number: str, reason: str
) -> None:
    variables = await agi.run("lookup", caller("1700000000.2", number))
    assert (variables["STICKY_ROUTE"], variables["STICKY_REASON"]) == ("queue", reason)
    assert variables["STICKY_TARGET_ENDPOINT"] == ""
    assert variables["STICKY_ANNOUNCE"] == "0"
    recorded = await db.fetchrow(
        "SELECT route, outcome, outcome_reason FROM interactions WHERE call_id = $1",
        "1700000000.2",
    )
    assert recorded is not None
    assert tuple(recorded) == ("queue", "queue", reason)


async def test_lookup_with_the_database_silent_queues_within_the_budget(
    db: asyncpg.Pool, tmp_path: Path
) -> None:
    """A PostgreSQL that accepts connections and never answers: the budget sends to the queue."""
    accepted: list[asyncio.StreamWriter] = []

    async def silent(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer)

    black_hole = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = black_hole.sockets[0].getsockname()[1]
    pool = await asyncpg.create_pool(
        f"postgresql://postgres@127.0.0.1:{port}/sticky", min_size=0, max_size=2
    )
    assert pool is not None
    broken = Agi(pool, tmp_path, budget=0.3, record_timeout=0.3)
    await broken.server.start()
    try:
        started = time.perf_counter()
        variables = await asterisk(broken.server.port, "lookup", caller("1700000000.3", IVAN))
        took = time.perf_counter() - started
        assert (variables["STICKY_ROUTE"], variables["STICKY_REASON"]) == ("queue", "db_timeout")
        assert took < 0.6
        await broken.scripts.drain()
    finally:
        await broken.server.stop(grace=1)
        await broken.journal.close()
        for writer in accepted:  # lets the core's background claim release fail fast
            writer.close()
        black_hole.close()
        pool.terminate()


async def test_ended_reports_an_answered_sticky_call_and_its_end(
    agi: Agi, db: asyncpg.Pool
) -> None:
    """An answered Dial() never returns to the dialplan: the caller's hangup handler reports
    the attempt (pending = 1) with the agent's leg id from the dial hook, and the end."""
    call_id = "1700000000.4"
    await agi.run("lookup", caller(call_id, IVAN))
    ended = await agi.run(
        "ended",
        caller(call_id, IVAN),
        "PJSIP/agent2-00000007",  # CHANNEL(hangupsource): the agent hung up
        "1",
        "ANSWER",
        "agent2",
        "22",
        "15",
        "1700000000.8",
    )
    assert ended == {}
    call = await db.fetchrow(
        "SELECT outcome, outcome_reason, ended_at, hangup_side FROM interactions "
        "WHERE call_id = $1",
        call_id,
    )
    assert call is not None
    assert (call["outcome"], call["outcome_reason"], call["hangup_side"]) == (
        "sticky",
        None,
        "agent",
    )
    assert call["ended_at"] is not None
    leg = await db.fetchrow(
        "SELECT a.name, l.outcome, l.hangup_side, "
        "extract(epoch FROM l.ended_at - l.answered_at) AS talk, "
        "extract(epoch FROM l.answered_at - l.rang_at) AS ringing "
        "FROM interaction_legs l JOIN agents a ON a.id = l.agent_id WHERE l.leg_id = $1",
        "1700000000.8",
    )
    assert leg is not None
    assert (leg["name"], leg["outcome"], leg["hangup_side"]) == ("agent2", "ANSWER", "agent")
    assert float(leg["talk"]) == pytest.approx(15, abs=0.01)
    assert float(leg["ringing"]) == pytest.approx(7, abs=0.01)
    claim = await db.fetchrow(
        "SELECT released_at, outcome FROM sticky_claims WHERE call_id = $1", call_id
    )
    assert claim is not None
    assert claim["released_at"] is not None
    assert claim["outcome"] == "answered"


async def test_ended_while_the_agent_rings_is_an_abandon(agi: Agi, db: asyncpg.Pool) -> None:
    call_id = "1700000000.10"
    await agi.run("lookup", caller(call_id, IVAN))
    own_channel = caller(call_id, IVAN)["channel"]
    await agi.run("ended", caller(call_id, IVAN), own_channel, "1", "CANCEL", "agent2", "3", "0")
    call = await db.fetchrow(
        "SELECT outcome, outcome_reason, hangup_side FROM interactions WHERE call_id = $1",
        call_id,
    )
    assert call is not None
    assert tuple(call) == ("abandoned", "caller_abandoned", "caller")
    leg = await db.fetchrow(
        "SELECT outcome, answered_at FROM interaction_legs WHERE leg_id = $1", f"{call_id}-agent2"
    )
    assert leg is not None
    assert (leg["outcome"], leg["answered_at"]) == ("CANCEL", None)
    live = await db.fetchval("SELECT count(*) FROM sticky_claims WHERE released_at IS NULL")
    assert live == 0


async def test_a_busy_agent_is_reported_without_a_leg(agi: Agi, db: asyncpg.Pool) -> None:
    call_id = "1700000000.11"
    await agi.run("lookup", caller(call_id, IVAN))
    variables = await agi.run("result", caller(call_id, IVAN), "busy", "agent2")
    assert variables == {"STICKY_REASON": "busy", "STICKY_RECORDED": "1"}
    call = await db.fetchrow(
        "SELECT outcome, outcome_reason FROM interactions WHERE call_id = $1", call_id
    )
    assert call is not None
    assert tuple(call) == ("queue", "busy")
    legs = await db.fetchval(
        "SELECT count(*) FROM interaction_legs l JOIN interactions i ON i.id = l.interaction_id "
        "WHERE i.call_id = $1",
        call_id,
    )
    assert legs == 0
    live = await db.fetchval("SELECT count(*) FROM sticky_claims WHERE released_at IS NULL")
    assert live == 0


async def test_result_noanswer_records_the_miss_and_frees_the_agent(
    agi: Agi, db: asyncpg.Pool
) -> None:
    call_id = "1700000000.5"
    await agi.run("lookup", caller(call_id, IVAN))
    variables = await agi.run("result", caller(call_id, IVAN), "NOANSWER", "agent2", "15", "0")
    assert variables == {"STICKY_REASON": "no_answer", "STICKY_RECORDED": "1"}
    call = await db.fetchrow(
        "SELECT outcome, outcome_reason FROM interactions WHERE call_id = $1", call_id
    )
    assert call is not None
    assert tuple(call) == ("queue", "no_answer")
    leg = await db.fetchrow(
        "SELECT answered_at, outcome FROM interaction_legs WHERE leg_id = $1", f"{call_id}-agent2"
    )
    assert leg is not None
    assert (leg["answered_at"], leg["outcome"]) == (None, "NOANSWER")
    live = await db.fetchval("SELECT count(*) FROM sticky_claims WHERE released_at IS NULL")
    assert live == 0


async def test_answered_records_the_agent_queue_connected(agi: Agi, db: asyncpg.Pool) -> None:
    call_id = "1700000000.6"
    await agi.run("lookup", caller(call_id, "+79001112233"))
    agent_channel = {"uniqueid": "1700000000.9", "channel": "PJSIP/agent4-0000000a"}
    assert await agi.run("answered", agent_channel, call_id) == {}
    leg = await db.fetchrow(
        "SELECT a.name, l.rang_at, l.answered_at FROM interaction_legs l "
        "JOIN agents a ON a.id = l.agent_id JOIN interactions i ON i.id = l.interaction_id "
        "WHERE i.call_id = $1 AND l.leg_id = $2",
        call_id,
        "1700000000.9",
    )
    assert leg is not None
    assert leg["name"] == "agent4"
    assert leg["answered_at"] is not None
    answered = await db.fetchval("SELECT answered_at FROM interactions WHERE call_id = $1", call_id)
    assert answered is not None
    # The caller hangs up: the agent's hangup handler ends the leg, the caller's the call.
    await agi.run("agent-ended", agent_channel, call_id, "PJSIP/caller-00000001")
    await agi.run("ended", caller(call_id, "+79001112233"), "PJSIP/caller-00000001", "0")
    leg = await db.fetchrow(
        "SELECT outcome, hangup_side, ended_at FROM interaction_legs WHERE leg_id = $1",
        "1700000000.9",
    )
    assert leg is not None
    assert (leg["outcome"], leg["hangup_side"]) == ("ANSWER", "caller")
    call = await db.fetchrow(
        "SELECT outcome, hangup_side, ended_at FROM interactions WHERE call_id = $1", call_id
    )
    assert call is not None
    assert (call["outcome"], call["hangup_side"]) == ("queue", "caller")
    assert call["ended_at"] >= leg["ended_at"]


async def test_lookup_checks_the_agent_with_the_same_table_as_ari_mode(
    agi: Agi, db: asyncpg.Pool
) -> None:
    """agent2 has logged out of support (QUEUE_MEMBER(...,paused,...) still says 0): the
    lookup answers the queue, reason offline, and lets agent2's claim go at once."""
    asked: list[str] = []
    logged_out = {"${QUEUE_MEMBER_LIST(support)}": "PJSIP/agent1,PJSIP/agent3"}
    variables = await agi.run(
        "lookup", caller("1700000000.7", IVAN), "support", functions=logged_out, asked=asked
    )
    assert (variables["STICKY_ROUTE"], variables["STICKY_REASON"]) == ("queue", "offline")
    # Membership, pause and state in one command (routing_core.attempt.agent_facts).
    assert asked == [
        "${QUEUE_MEMBER_LIST(support)}|${QUEUE_MEMBER(support,paused,PJSIP/agent2)}"
        "|${DEVICE_STATE(PJSIP/agent2)}"
    ]
    row = await db.fetchrow(
        "SELECT route, outcome, outcome_reason FROM interactions WHERE call_id = $1",
        "1700000000.7",
    )
    assert row is not None
    assert tuple(row) == ("sticky", "queue", "offline")
    live = await db.fetchval(
        "SELECT count(*) FROM sticky_claims WHERE call_id = $1 AND released_at IS NULL",
        "1700000000.7",
    )
    assert live == 0


async def test_a_queue_name_that_is_not_one_never_reaches_a_dialplan_function(agi: Agi) -> None:
    asked: list[str] = []
    variables = await agi.run(
        "lookup", caller("1700000000.8", IVAN), "support,x)}${EVIL", asked=asked
    )
    assert (variables["STICKY_ROUTE"], variables["STICKY_REASON"]) == ("queue", "unreachable")
    assert asked == []


async def test_a_dialplan_that_unpacks_gets_the_variables_in_one_command(agi: Agi) -> None:
    """lookup?...&pack=1 (the shipped sticky-router-agi.conf, which runs sticky-unpack after the
    AGI): one SET VARIABLE for all, the route included, instead of one per variable."""
    number = "+79001112233"
    one_by_one = await agi.run("lookup", caller("1700000000.7", number), "support")
    packed = await play_asterisk(
        agi.server.port, "lookup", caller("1700000000.8", number), "support",
        secret=f"{SECRET}&pack=1",
    )  # fmt: skip
    await agi.scripts.drain()
    assert list(packed) == ["STICKY_PACK"]
    given = unpacked(packed["STICKY_PACK"])
    expected = {name: value for name, value in one_by_one.items() if value}
    assert given | {"STICKY_CALL_ID": ""} == expected | {"STICKY_CALL_ID": ""}
    assert given["STICKY_CALL_ID"] == "1700000000.8"
    assert given["STICKY_REASON"] == "no_history"
    assert given["STICKY_ROUTE"] == "queue"
