"""Synthetic history in a real Postgres, and the what-if replay over it."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta

import asyncpg
import pytest

from devkit.sandbox.postgres import LocalPostgres
from devkit.synthetic_history import (
    CLOSE_HOUR,
    OPEN_HOUR,
    HistoryShape,
    generate_history,
)
from sticky_router.routing_core.decision import EXCLUSION_TO_QUEUE_REASON
from sticky_router.routing_core.settings import Scope, ScopedValue
from sticky_router.routing_core.store.replay import CANDIDATE, IN_FORCE, run_replay
from sticky_router.routing_core.store.settings_store import set_setting
from tests.integration.conftest import create_database

SMALL = HistoryShape(agents=10, days=21, customers_per_agent=300, seed=5)


async def _fingerprint(db: asyncpg.Pool) -> list[object]:
    return [
        await db.fetchval("SELECT count(*) FROM interactions"),
        await db.fetchval("SELECT count(*) FROM interaction_legs"),
        await db.fetchval(
            "SELECT md5(string_agg(call_id || coalesce(caller_number, '') || started_at::text"
            " || coalesce(ended_at::text, ''), ',' ORDER BY id)) FROM interactions"
        ),
    ]


async def test_the_generator_writes_a_plausible_line_and_the_same_line_for_a_seed(
    db: asyncpg.Pool,
) -> None:
    counts = await generate_history(db, SMALL)
    assert counts.interactions == await db.fetchval("SELECT count(*) FROM interactions")
    assert counts.legs == await db.fetchval("SELECT count(*) FROM interaction_legs")
    # About 55 calls per agent and day, callbacks included.
    assert 0.8 < counts.interactions / (10 * 21 * 55) < 1.2
    # Calls arrive while the line is open, more on weekdays than at the weekend.
    hours = await db.fetchval(
        "SELECT array_agg(DISTINCT extract(hour FROM started_at AT TIME ZONE 'UTC')::int) "
        "FROM interactions"
    )
    assert set(hours) <= set(range(OPEN_HOUR, CLOSE_HOUR))
    by_day = await db.fetchrow(
        "SELECT count(*) FILTER (WHERE extract(isodow FROM started_at) < 6) / 5.0::float8, "
        "       count(*) FILTER (WHERE extract(isodow FROM started_at) >= 6) / 2.0::float8 "
        "FROM interactions"
    )
    assert by_day is not None
    weekday, weekend = by_day
    assert weekday > 1.5 * weekend
    # Repeat calls: a quarter of the calls are callbacks, most within a few hours.
    assert 0.15 < counts.callbacks / counts.interactions < 0.3
    gaps = await db.fetch(
        "SELECT started_at - lag(ended_at) OVER (PARTITION BY caller_number ORDER BY started_at)"
        " AS gap FROM interactions"
    )
    quick = [r["gap"] for r in gaps if r["gap"] is not None and r["gap"] < timedelta(hours=4)]
    assert len(quick) > 0.5 * counts.callbacks
    # Some calls are abandoned in the queue, one answered call in ten or so is transferred.
    assert 0.01 < counts.abandoned / counts.interactions < 0.2
    transferred = await db.fetchval(
        "SELECT count(*) FROM interaction_legs WHERE transferred_from_leg_id IS NOT NULL"
    )
    assert 0.03 < transferred / counts.legs < 0.15
    # Shared numbers and VIP customers exist; handle times are minutes, not seconds or hours.
    assert await db.fetchval(
        "SELECT count(*) FROM (SELECT e164 FROM phone_numbers GROUP BY e164 HAVING count(*) > 1) s"
    )
    assert await db.fetchval("SELECT count(*) FROM customers WHERE class_name = 'vip'")
    median_talk = await db.fetchval(
        "SELECT percentile_cont(0.5) WITHIN GROUP "
        "(ORDER BY extract(epoch FROM ended_at - answered_at)) "
        "FROM interaction_legs WHERE answered_at IS NOT NULL"
    )
    assert 120 < median_talk < 400

    first = await _fingerprint(db)
    await generate_history(db, SMALL, reset=True)
    assert await _fingerprint(db) == first
    await generate_history(
        db, HistoryShape(agents=10, days=21, customers_per_agent=300, seed=6), reset=True
    )
    assert await _fingerprint(db) != first


async def test_the_replay_decides_as_the_generator_recorded_and_a_wider_window_finds_more(
    db: asyncpg.Pool,
) -> None:
    counts = await generate_history(db, SMALL)
    async with db.acquire() as connection:
        report = await run_replay(
            connection, [ScopedValue(Scope.GLOBAL, None, "window_minutes", 480)]
        )
    now, wider = report.tallies[IN_FORCE], report.tallies[CANDIDATE]
    assert report.calls == now.calls == wider.calls == counts.interactions
    # The generator routed every call with the same policy and the default settings: the replay
    # under the (default) settings in force finds the same callbacks eligible, give or take the
    # cap, which counts connections and these differ where recorded availability does.
    excluded = [r.value for r in EXCLUSION_TO_QUEUE_REASON.values()]
    recorded_eligible = await db.fetchval(
        "SELECT count(*) FROM interactions WHERE route = 'sticky' "
        "OR (route = 'queue' AND route_reason = ANY($1::text[]))",
        excluded,
    )
    assert recorded_eligible > 0
    assert abs(now.eligible - recorded_eligible) <= 0.02 * recorded_eligible
    assert wider.eligible > now.eligible
    assert wider.misses["window_expired"] < now.misses["window_expired"]
    assert 0 < now.connected <= now.eligible
    assert sum(now.sticky_load.values()) == now.connected

    # A period replays only the calls that started in it.
    first_day = report.first_call
    assert first_day is not None
    async with db.acquire() as connection:
        week = await run_replay(
            connection, [], since=first_day, until=first_day + timedelta(days=7)
        )
    in_week = await db.fetchval(
        "SELECT count(*) FROM interactions WHERE started_at >= $1 AND started_at < $2",
        first_day,
        first_day + timedelta(days=7),
    )
    assert week.calls == in_week < report.calls


async def test_the_settings_in_force_are_the_stored_ones(db: asyncpg.Pool) -> None:
    await generate_history(db, SMALL)
    await set_setting(
        db, scope=Scope.GLOBAL, scope_value=None, key="enabled", value=False, actor="test"
    )
    async with db.acquire() as connection:
        report = await run_replay(connection, [ScopedValue(Scope.GLOBAL, None, "enabled", True)])
    now, then = report.tallies[IN_FORCE], report.tallies[CANDIDATE]
    assert (now.eligible, now.connected) == (0, 0)
    assert then.connected > 0


@pytest.mark.parametrize(
    ("change", "named"),
    [("window_minutes=-5", "window_minutes"), ("ring_timeout_seconds=150", "ring_timeout")],
)
async def test_simulate_on_the_console(postgres: LocalPostgres, change: str, named: str) -> None:
    url = await create_database(postgres, "simulate_cli")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("STICKY_")},
        "STICKY_DATABASE_URL": url,
    }

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "sticky_router.process.cli", *args],
            env=env, capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip

    assert cli("migrate").returncode == 0
    made = cli("generate-history", "--agents", "5", "--days", "7", "--seed", "3")
    assert made.returncode == 0, made.stderr
    assert "generated" in made.stdout
    shown = cli("simulate", "--set", "window_minutes=240", "--set", "busy_wait_seconds=20")
    assert shown.returncode == 0, shown.stderr
    assert "window_minutes=240" in shown.stdout
    for label in ("callbacks eligible", "connected to the preferred agent", "wait added"):
        assert label in shown.stdout
    refused = cli("simulate", "--set", change)
    assert refused.returncode == 2
    assert named in refused.stderr
