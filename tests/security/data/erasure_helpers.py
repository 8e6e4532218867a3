"""Ivan Petrov of the demo, with every kind of personal data the product can hold about him, and
`sticky-router forget-customer` run through the CLI's entry point."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from sticky_router.process.cli import main
from sticky_router.routing_core.store.reports import dashboard

IVAN_NUMBER = "+79123456701"
# Everything that names Ivan, as stored: his number, name, account, ticket, its text, a note,
# an agent's reason for a do-not-pair request and a block.
IVAN_TRACES = [
    IVAN_NUMBER, "Ivan Petrov", "100201", "T-1001", "No internet since morning",
    "PPPoE authentication failures", "NOTE-IVAN modem replaced", "rude-ivan", "ivan-threats",
]  # fmt: skip


@dataclass(frozen=True)
class CliResult:
    code: int
    out: str
    err: str


async def forget(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    *args: str,
) -> CliResult:  # fmt: skip
    """`sticky-router forget-customer ARGS` through `main`, as the console script runs it."""
    monkeypatch.setenv("STICKY_DATABASE_URL", database_url)
    capsys.readouterr()
    code = await asyncio.to_thread(main, ["forget-customer", *args])
    captured = capsys.readouterr()
    return CliResult(code, captured.out, captured.err)


async def give_ivan_everything(pool: asyncpg.Pool) -> int:
    """A note, an action, a pop, a do-not-pair request, a block and a callback owed on his
    number, and a call from his number nobody was attached to (he keyed his account in the
    IVR). His id."""
    ivan = await pool.fetchval("SELECT id FROM customers WHERE name = 'Ivan Petrov'")
    agent2 = await pool.fetchval("SELECT id FROM agents WHERE name = 'agent2'")
    call = await pool.fetchval("SELECT id FROM interactions WHERE call_id = 'demo-0-0'")
    now = datetime.now(UTC)
    await pool.execute(
        "INSERT INTO interaction_notes (interaction_id, agent_id, body) VALUES ($1, $2, $3)",
        call, agent2, "NOTE-IVAN modem replaced",
    )  # fmt: skip
    await pool.execute(
        "INSERT INTO agent_actions (interaction_id, agent_id, action, detail) "
        "VALUES ($1, $2, 'link_ticket', '{\"ticket\": \"T-1001\"}')",
        call, agent2,
    )  # fmt: skip
    await pool.execute(
        "INSERT INTO agent_pops (call_id, agent_id, rang_at, source) "
        "VALUES ('demo-0-0', $1, $2, 'queue')",
        agent2, now - timedelta(minutes=50),
    )  # fmt: skip
    await pool.execute(
        "INSERT INTO do_not_pair (e164, agent_id, kind, reason, requested_by, interaction_id) "
        "VALUES ($1, $2, 'agent_request', 'rude-ivan', 'agent2', $3)",
        IVAN_NUMBER, agent2, call,
    )  # fmt: skip
    await pool.execute(
        "INSERT INTO caller_blocks (e164, reason, destination_kind, destination, set_by, "
        "expires_at) VALUES ($1, 'ivan-threats', 'queue', 'supervisors', 'boss', $2)",
        IVAN_NUMBER, now + timedelta(days=1),
    )  # fmt: skip
    # A callback he asked for, still owed: his number, whoever it is recorded against.
    await pool.execute(
        "INSERT INTO callbacks (call_id, agent_id, number, queue, requested_at, expires_at) "
        "VALUES ('demo-0-0', $1, $2, 'support', $3, $4)",
        agent2, IVAN_NUMBER, now, now + timedelta(hours=1),
    )  # fmt: skip
    await pool.execute(
        "INSERT INTO interactions (call_id, caller_number, key_kind, key_value, queue, started_at,"
        " ended_at, route, outcome, ivr_account) "
        "VALUES ('unattached-ivan', $1, 'account', '100201', 'support', $2, $3, 'queue', "
        "'abandoned', '100201')",
        IVAN_NUMBER, now - timedelta(days=2), now - timedelta(days=2) + timedelta(minutes=1),
    )  # fmt: skip
    return int(ivan)


async def anonymous_counts(pool: asyncpg.Pool) -> tuple[object, ...]:
    """What reports count: calls by queue, route and outcome, and the dashboard's figures."""
    by_kind = await pool.fetch(
        "SELECT queue, route, route_reason, outcome, target_agent_id, count(*) FROM interactions "
        "GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5"
    )
    now = datetime.now(UTC)
    figures = await dashboard(pool, now - timedelta(days=30), now + timedelta(days=1))
    return [tuple(row) for row in by_kind], figures
