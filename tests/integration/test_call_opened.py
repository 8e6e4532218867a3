"""A call's start, decision and route written in one statement (CallRecorder.call_opened), on a
real PostgreSQL: the same row as the three statements it replaces, whatever was written before,
the decision's notice for the agent's pop, and one statement per journal pass."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from sticky_router.process.database import create_pool
from sticky_router.routing_core.events import CallRouted, CallStarted, DecisionMade
from sticky_router.routing_core.model import IncomingCall
from sticky_router.routing_core.store.applier import JournalApplier
from sticky_router.routing_core.store.journal import Journal
from sticky_router.routing_core.store.recorder import CallRecorder
from tests.integration.helpers import add_agents

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
IVAN = "+79123456701"
CALL_DECIDED = "sticky_call_decided"


def opening(call_id: str) -> tuple[CallStarted, DecisionMade, CallRouted]:
    return (
        CallStarted(call_id, NOW, "support", IVAN, "74950000000", "A-1", None, "2"),
        DecisionMade(call_id, "queue", "no_history", "number", IVAN, None, None, None, "T-9"),
        CallRouted(call_id, "queue", "no_history"),
    )


async def report_first(recorder: CallRecorder, call_id: str, before: str) -> None:
    """What another reporter may have written before the journal applies the opening."""
    if before == "queue_log":  # knows the call, not the number, a little later
        await recorder.call_started(
            IncomingCall(call_id, None, NOW + timedelta(seconds=1), "support", None), None
        )
    elif before == "decided":  # an earlier decision and route: they stay
        await recorder.call_started(IncomingCall(call_id, None, NOW, "support", None), IVAN)
        await recorder.decision_made(
            DecisionMade(call_id, "sticky", "last_agent", target_agent_id=1)
        )
        await recorder.call_routed(call_id, "sticky", None)


async def row_of(db: asyncpg.Pool, call_id: str) -> dict[str, Any]:
    row = await db.fetchrow("SELECT * FROM interactions WHERE call_id = $1", call_id)
    assert row is not None
    return {name: value for name, value in row.items() if name not in ("id", "call_id")}


@pytest.mark.parametrize("before", ["nothing", "queue_log", "decided"])
@pytest.mark.parametrize("routed", [True, False])
async def test_one_statement_writes_what_the_three_would(
    db: asyncpg.Pool, before: str, routed: bool
) -> None:
    await add_agents(db)
    recorder = CallRecorder(db)
    for call_id in ("c-three", "c-one"):
        await report_first(recorder, call_id, before)
    started, made, route = opening("c-three")
    await started.apply(recorder)
    await made.apply(recorder)
    if routed:
        await route.apply(recorder)
    started, made, route = opening("c-one")
    await recorder.call_opened(started, made, route if routed else None)
    assert await row_of(db, "c-one") == await row_of(db, "c-three")
    if before == "decided":
        assert (await row_of(db, "c-one"))["route"] == "sticky"  # the first decision stays


async def test_a_call_inserted_with_its_decision_is_announced(
    db: asyncpg.Pool, database_url: str
) -> None:
    """Migration 0007's trigger fires on the UPDATE that first sets the route; a call opened in
    one INSERT needs 0018's. A start alone (no route yet) announces nothing."""
    heard: asyncio.Queue[str] = asyncio.Queue()
    listener = await asyncpg.connect(database_url)
    try:
        await listener.add_listener(CALL_DECIDED, lambda *args: heard.put_nowait(str(args[3])))
        recorder = CallRecorder(db)
        await recorder.call_started(IncomingCall("c-undecided", None, NOW, "support", None), IVAN)
        await recorder.call_opened(*opening("c-opened"))
        assert await asyncio.wait_for(heard.get(), 5) == "c-opened"
        await asyncio.sleep(0.2)
        assert heard.empty()  # nothing for c-undecided
    finally:
        await listener.close()


async def test_a_journal_pass_opens_a_queue_call_with_one_statement(
    database_url: str, db: asyncpg.Pool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pool = await create_pool(database_url, size=1)  # this pass's statements, nobody else's
    journal = Journal.open(tmp_path / "router.journal")
    statements: list[str] = []
    execute = asyncpg.connection.Connection.execute

    async def counted(connection: asyncpg.Connection, query: str, *args: Any, **kw: Any) -> Any:
        statements.append(query)
        return await execute(connection, query, *args, **kw)

    try:
        await journal.append(*opening("c-queue"))
        monkeypatch.setattr(asyncpg.connection.Connection, "execute", counted)
        assert await JournalApplier(journal, CallRecorder(pool)).apply_due()
        monkeypatch.undo()
        assert len(statements) == 1
        assert "ON CONFLICT" in statements[0]
        row = await row_of(db, "c-queue")
        assert (row["route"], row["outcome"], row["ticket_ref"]) == ("queue", "queue", "T-9")
        assert journal.backlog == 0
    finally:
        await journal.close()
        await pool.close()
