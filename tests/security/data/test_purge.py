"""The retention job deletes exactly what is older than each kind's setting, in batches, keeps
the anonymous daily counts, counts what it deleted in the metric, and ends expired sessions.
(The old code had no setting, no job: everything was kept for ever, and an expired session
stayed in web_sessions whatever ran.)"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg

from sticky_router.process.metrics import PrometheusObserver
from sticky_router.process.retention_job import RetentionJob
from sticky_router.process.router import Router, RouterSettings
from sticky_router.routing_core.store.retention import RetentionPolicy, purge

NOW = datetime.now(UTC).replace(microsecond=0)
POLICY = RetentionPolicy(batch_rows=10)  # the defaults: 365, 365, 30, 90 and 1095 days
OLD_CALLS = 25
JUST = timedelta(minutes=1)


def ago(days: int) -> datetime:
    return NOW - timedelta(days=days)


async def _call(pool: asyncpg.Pool, call_id: str, started: datetime, sticky: bool) -> int:
    agent1 = await pool.fetchval("SELECT id FROM agents WHERE name = 'agent1'")
    call = await pool.fetchval(
        "INSERT INTO interactions (call_id, caller_number, queue, started_at, answered_at, "
        "ended_at, route, route_reason, target_agent_id, outcome) "
        "VALUES ($1, '+79990000001', 'support', $2::timestamptz, "
        "$2::timestamptz + interval '20 seconds', $2::timestamptz + interval '5 minutes', "
        "$3, $4, $5, $6) RETURNING id",
        call_id, started, "sticky" if sticky else "queue", None if sticky else "no_history",
        agent1 if sticky else None, "sticky" if sticky else "queue",
    )  # fmt: skip
    await pool.execute(
        "INSERT INTO interaction_legs (interaction_id, leg_id, agent_id, role, rang_at, "
        "answered_at, ended_at) VALUES ($1, 'l', $2, 'first_line', $3, $3, $3)",
        call, agent1, started,
    )  # fmt: skip
    return int(call)


async def seed_ages(pool: asyncpg.Pool) -> None:
    """For each kind, rows just past its retention and rows just inside it."""
    agent1 = await pool.fetchval("SELECT id FROM agents WHERE name = 'agent1'")
    for number in range(OLD_CALLS):
        call = await _call(pool, f"old-{number}", ago(365) - JUST - timedelta(seconds=number),
                           sticky=number % 5 == 0)  # fmt: skip
        await pool.execute(
            "INSERT INTO interaction_notes (interaction_id, agent_id, body, created_at) "
            "VALUES ($1, $2, 'goes with its call', $3)",
            call, agent1, ago(365) - JUST,
        )  # fmt: skip
    kept = await _call(pool, "inside-calls", ago(365) + JUST, sticky=False)
    for created, body in ((ago(365) - JUST, "old note"), (ago(365) + JUST, "kept note")):
        await pool.execute(
            "INSERT INTO interaction_notes (interaction_id, agent_id, body, created_at) "
            "VALUES ($1, $2, $3, $4)",
            kept, agent1, body, created,
        )  # fmt: skip
        await pool.execute(
            "INSERT INTO agent_actions (interaction_id, agent_id, action, at) "
            "VALUES ($1, $2, $3, $4)",
            kept, agent1, body, created,
        )  # fmt: skip
    for call_id, rang in (("old-pop", ago(30) - JUST), ("kept-pop", ago(30) + JUST)):
        await pool.execute(
            "INSERT INTO agent_pops (call_id, agent_id, rang_at, source) "
            "VALUES ($1, $2, $3, 'queue')",
            call_id, agent1, rang,
        )  # fmt: skip
    for reason, status, reviewed, expires in (
        ("expired", "approved", ago(200), ago(90) - JUST),
        ("rejected", "rejected", ago(90) - JUST, None),
        ("kept expired", "approved", ago(200), ago(90) + JUST),
        ("in force", "approved", ago(2000), None),
        ("pending", "pending", None, None),
    ):
        await pool.execute(
            "INSERT INTO do_not_pair (e164, agent_id, kind, reason, status, requested_by, "
            "requested_at, reviewed_at, expires_at) "
            "VALUES ('+79990000001', $1, 'agent_request', $2, $3, 'agent1', $4, $5, $6)",
            agent1, reason, status, ago(2000), reviewed, expires,
        )  # fmt: skip
    for reason, expires in (("expired", ago(90) - JUST), ("kept expired", ago(90) + JUST)):
        await pool.execute(
            "INSERT INTO caller_blocks (e164, reason, destination_kind, destination, set_by, "
            "set_at, expires_at) VALUES ('+79990000001', $1, 'queue', 'supervisors', 'boss', "
            "$2, $2)",
            reason, expires,
        )  # fmt: skip
    # Callbacks: one closed past the flags' retention (purged), one closed inside it, and one
    # still owed however old (kept).
    for call_id, status, closed in (
        ("cb-old", "done", ago(90) - JUST),
        ("cb-kept", "expired", ago(90) + JUST),
        ("cb-owed", "pending", None),
    ):
        await pool.execute(
            "INSERT INTO callbacks (call_id, agent_id, number, queue, requested_at, expires_at,"
            " status, closed_at) VALUES ($1, $2, '+79990000001', 'support', $3, $4, $5, $6)",
            call_id, agent1, ago(2000), closed or ago(1500), status, closed,
        )  # fmt: skip
    for at, actor in ((ago(1095) - JUST, "old"), (ago(1095) + JUST, "kept")):
        await pool.execute(
            "INSERT INTO settings_audit (at, actor, scope_kind, scope_value, key) "
            "VALUES ($1, $2, 'global', '', 'window_minutes')",
            at, actor,
        )  # fmt: skip
        await pool.execute(
            "INSERT INTO erasure_audit (at, actor, key_kind, erased) VALUES ($1, $2, 'id', '{}')",
            at, actor,
        )  # fmt: skip


EXPECTED = {
    "calls": OLD_CALLS, "notes": 1, "actions": 1, "pops": 1, "do_not_pair": 2,
    "caller_blocks": 1, "callbacks": 1, "settings_audit": 1, "erasure_audit": 1,
}  # fmt: skip


async def test_purge_deletes_exactly_what_is_past_each_retention(demo: asyncpg.Pool) -> None:
    await seed_ages(demo)
    demo_calls = await demo.fetchval(
        "SELECT count(*) FROM interactions WHERE call_id LIKE 'demo-%'"
    )

    purged = await purge(demo, POLICY, NOW, pause=0)

    assert purged.rows == EXPECTED
    assert purged.batches == 3 + 8  # 25 calls in batches of 10; one batch for each other kind
    assert purged.deferred == []
    assert await demo.fetchval("SELECT count(*) FROM interactions WHERE call_id LIKE 'old-%'") == 0
    assert await demo.fetchval(
        "SELECT count(*) FROM interactions WHERE call_id LIKE 'demo-%'"
    ) == demo_calls  # fmt: skip
    # What stays: the rows one minute inside their window, and flags still in force or pending.
    assert await demo.fetchval("SELECT call_id FROM interactions WHERE call_id = 'inside-calls'")
    assert {r["body"] for r in await demo.fetch("SELECT body FROM interaction_notes")} == {
        "kept note"
    }
    assert {r["action"] for r in await demo.fetch("SELECT action FROM agent_actions")} == {
        "kept note"
    }
    assert [r["call_id"] for r in await demo.fetch("SELECT call_id FROM agent_pops")] == [
        "kept-pop"
    ]
    flags = await demo.fetch("SELECT reason FROM do_not_pair WHERE e164 = '+79990000001'")
    assert {r["reason"] for r in flags} == {"kept expired", "in force", "pending"}
    blocks = await demo.fetch("SELECT reason FROM caller_blocks WHERE e164 = '+79990000001'")
    assert [r["reason"] for r in blocks] == ["kept expired"]
    callbacks = await demo.fetch("SELECT call_id FROM callbacks ORDER BY call_id")
    assert [r["call_id"] for r in callbacks] == ["cb-kept", "cb-owed"]
    for audit in ("settings_audit", "erasure_audit"):
        assert "old" not in {r["actor"] for r in await demo.fetch(f"SELECT actor FROM {audit}")}
    # Legs went with their calls.
    assert await demo.fetchval(
        "SELECT count(*) FROM interaction_legs l LEFT JOIN interactions i "
        "ON i.id = l.interaction_id WHERE i.id IS NULL"
    ) == 0  # fmt: skip

    again = await purge(demo, POLICY, NOW, pause=0)
    assert sum(again.rows.values()) == 0


async def test_purged_calls_leave_their_counts(demo: asyncpg.Pool) -> None:
    await seed_ages(demo)

    await purge(demo, POLICY, NOW, pause=0)

    rows = await demo.fetch(
        "SELECT day, queue, route, route_reason, outcome, target_agent, calls, answered, "
        "answer_seconds FROM interaction_daily_counts ORDER BY route"
    )
    day = (ago(365) - JUST).date()
    sticky = len(range(0, OLD_CALLS, 5))
    assert [tuple(row) for row in rows] == [
        (day, "support", "queue", "no_history", "queue", "", OLD_CALLS - sticky,
         OLD_CALLS - sticky, 20.0 * (OLD_CALLS - sticky)),
        (day, "support", "sticky", "", "sticky", "agent1", sticky, sticky, 20.0 * sticky),
    ]  # fmt: skip
    assert "+79990000001" not in str([tuple(row) for row in rows])


async def test_nothing_is_purged_of_a_kind_kept_for_ever(demo: asyncpg.Pool) -> None:
    await seed_ages(demo)

    purged = await purge(demo, RetentionPolicy(calls_days=0, pops_days=0), NOW, pause=0)

    assert purged.rows["calls"] == purged.rows["pops"] == 0
    assert purged.rows["notes"] == OLD_CALLS + 1  # the notes on the kept old calls are old too
    assert await demo.fetchval("SELECT count(*) FROM interactions WHERE call_id LIKE 'old-%'") == 25


async def _sessions(pool: asyncpg.Pool) -> list[str]:
    agent1 = await pool.fetchval("SELECT id FROM agents WHERE name = 'agent1'")
    for token, last_seen, expires in (
        ("expired", NOW - timedelta(hours=13), NOW - timedelta(hours=1)),
        ("idle", NOW - timedelta(minutes=31), NOW + timedelta(hours=5)),
        ("live", NOW - timedelta(minutes=1), NOW + timedelta(hours=5)),
    ):
        await pool.execute(
            "INSERT INTO web_sessions (token_hash, agent_id, csrf_token, created_at, "
            "last_seen_at, expires_at) VALUES ($1, $2, 'csrf', $3, $3, $4)",
            token, agent1, last_seen, expires,
        )  # fmt: skip
    return [r["token_hash"] for r in await pool.fetch("SELECT token_hash FROM web_sessions")]


async def test_the_job_ends_expired_sessions_and_counts_in_the_metric(demo: asyncpg.Pool) -> None:
    await seed_ages(demo)
    assert sorted(await _sessions(demo)) == ["expired", "idle", "live"]
    metrics = PrometheusObserver()
    job = RetentionJob(
        demo, POLICY, session_idle=timedelta(minutes=30), count=metrics.rows_purged,
        clock=lambda: NOW,
    )  # fmt: skip

    rows = await job.run_once()

    assert rows == {**EXPECTED, "web_sessions": 2}
    assert [r["token_hash"] for r in await demo.fetch("SELECT token_hash FROM web_sessions")] == [
        "live"
    ]
    for kind, count in rows.items():
        sample = metrics.registry.get_sample_value(
            "sticky_router_purged_rows_total", {"kind": kind}
        )
        assert sample == count, kind
    exposition = metrics.exposition()[0].decode()
    assert 'sticky_router_purged_rows_total{kind="calls"} 25.0' in exposition


async def test_the_router_runs_the_job_and_stops_it_cleanly(
    demo: asyncpg.Pool, database_url: str, tmp_path: Path
) -> None:
    await _sessions(demo)
    settings = RouterSettings(
        database_url=database_url, ari_url="http://127.0.0.1:1", ari_user="nobody",
        ari_password="unused", journal_path=tmp_path / "router.journal",
        retention=POLICY, retention_interval_seconds=0.2,
    )  # fmt: skip
    router = Router(settings)
    await router.start()
    try:
        async with asyncio.timeout(10):
            while await demo.fetchval("SELECT count(*) FROM web_sessions") > 1:  # noqa: ASYNC110
                await asyncio.sleep(0.1)  # another process's writes: nothing here to wait on
        purged = router.metrics.registry.get_sample_value(
            "sticky_router_purged_rows_total", {"kind": "web_sessions"}
        )
        assert purged == 2
    finally:
        await router.stop()
    assert router.retention is None
    assert [r["token_hash"] for r in await demo.fetch("SELECT token_hash FROM web_sessions")] == [
        "live"
    ]
