"""The what-if replay on histories small enough to work out by hand."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta

import pytest

from sticky_router.process.simulation_cli import scope, setting
from sticky_router.routing_core import policy, simulate
from sticky_router.routing_core.model import Agent, AgentRole, KeyKind, Leg
from sticky_router.routing_core.replay_assumptions import (
    CallerChoices,
    RecordedAvailability,
    hour_index,
)
from sticky_router.routing_core.replay_input import ReplayCall, World
from sticky_router.routing_core.replay_tally import Tally
from sticky_router.routing_core.settings import Scope, ScopedValue
from sticky_router.routing_core.simulate import Replay
from sticky_router.routing_core.store.replay import overlay

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday morning
ANNA = Agent(1, "anna", "Anna", "PJSIP/anna", AgentRole.FIRST_LINE, True)
BORIS = Agent(2, "boris", "Boris", "PJSIP/boris", AgentRole.FIRST_LINE, True)
SPEC = Agent(3, "spec", "Spec", "PJSIP/spec", AgentRole.SPECIALIST, True)
WORLD = World(agents={a.id: a for a in (ANNA, BORIS, SPEC)})
_ids = iter(range(1, 10_000))


def minutes(n: float) -> datetime:
    return T0 + timedelta(minutes=n)


def leg(agent: Agent, rang: float, talked_s: float, *, transferred: bool = False) -> Leg:
    """A leg that rang at minute `rang`, answered 5 s later and talked `talked_s` seconds
    (0: never answered, ended after 30 s of ringing)."""
    rang_at = minutes(rang)
    name = f"l{next(_ids)}"
    if talked_s == 0:
        gave_up = rang_at + timedelta(seconds=30)
        return Leg(name, agent.id, agent.role, rang_at, None, gave_up, transferred)
    answered = rang_at + timedelta(seconds=5)
    ended = answered + timedelta(seconds=talked_s)
    return Leg(name, agent.id, agent.role, rang_at, answered, ended, transferred)


def call(customer: int, at: float, *legs: Leg) -> ReplayCall:
    ends = [lg.ended_at for lg in legs if lg.ended_at] or [minutes(at) + timedelta(seconds=40)]
    number = f"+7900{customer:07d}"
    n = next(_ids)
    return ReplayCall(
        n, f"c{n}", number, KeyKind.NUMBER, number, customer, None, "support", None,
        minutes(at), max(ends), legs,
    )  # fmt: skip


def every_hour_worked(*agents: Agent) -> set[tuple[int, int]]:
    return {(a.id, hour_index(T0) + h) for a in agents for h in range(-2, 48)}


def replay(
    calls: list[ReplayCall],
    candidate: list[ScopedValue],
    worked: set[tuple[int, int]] | None = None,
) -> Replay:
    engine = Replay(
        WORLD,
        {"in force": [], "candidate": candidate},
        RecordedAvailability(
            worked if worked is not None else every_hour_worked(ANNA, BORIS, SPEC)
        ),
    )
    engine.replay(calls)
    return engine


def glob(key: str, value: object) -> ScopedValue:
    return ScopedValue(Scope.GLOBAL, None, key, value)


def test_the_replay_asks_the_live_policy() -> None:
    assert vars(simulate)["decide"] is policy.decide


def test_a_callback_after_90_minutes_is_connected_under_120_but_not_under_60() -> None:
    engine = replay(
        [call(7, 0, leg(ANNA, 0, 300)), call(7, 95)],  # Anna's call ended at 5:05, back at 95
        [glob("window_minutes", 60)],
    )
    now, then = engine.tallies["in force"], engine.tallies["candidate"]
    assert (now.calls, now.eligible, now.connected) == (2, 1, 1)
    assert now.sticky_load == {ANNA.id: 1}
    assert (then.eligible, then.connected) == (0, 0)
    assert then.misses == {"window_expired": 1}
    assert now.wait_added_seconds == then.wait_added_seconds == 0


def test_a_busy_agent_is_a_miss_without_busy_wait_and_a_wait_with_it() -> None:
    calls = [
        call(7, 0, leg(ANNA, 0, 300)),
        # Someone else's call keeps Anna busy from minute 29 until 31:05 (ring 29:00, talk 2 min).
        call(8, 29, leg(ANNA, 29, 120)),
        call(7, 30),  # Anna's caller calls back at 30: Anna comes free 65 s later
    ]
    engine = replay(calls, [glob("busy_wait_seconds", 120), glob("detour_budget_seconds", 120)])
    now, then = engine.tallies["in force"], engine.tallies["candidate"]
    assert (now.eligible, now.connected, now.misses) == (1, 0, {"busy": 1})
    assert now.wait_added_seconds == 0
    assert (then.eligible, then.connected) == (1, 1)
    assert then.wait_added_seconds == pytest.approx(65)


def test_a_busy_wait_too_short_adds_the_whole_wait_and_misses() -> None:
    calls = [call(7, 0, leg(ANNA, 0, 300)), call(8, 29, leg(ANNA, 29, 120)), call(7, 30)]
    then = replay(calls, [glob("busy_wait_seconds", 20)]).tallies["candidate"]
    assert (then.connected, then.misses, then.wait_added_seconds) == (0, {"busy": 1}, 20)


def test_the_detour_budget_caps_the_busy_wait() -> None:
    calls = [call(7, 0, leg(ANNA, 0, 300)), call(8, 29, leg(ANNA, 29, 120)), call(7, 30)]
    knobs = [glob("busy_wait_seconds", 120), glob("detour_budget_seconds", 30)]
    then = replay(calls, knobs).tallies["candidate"]
    assert (then.connected, then.misses, then.wait_added_seconds) == (0, {"busy": 1}, 30)


def test_the_replay_walks_the_candidates_with_the_routers_own_function() -> None:
    from sticky_router.routing_core import candidates, service

    walk = candidates.walk_candidates
    assert vars(simulate)["walk_candidates"] is walk
    assert vars(service)["walk_candidates"] is walk  # RoutingService.walk, for ARI and FastAGI


def test_an_agent_without_calls_in_that_hour_counts_as_offline() -> None:
    worked = {(ANNA.id, hour_index(T0))}  # Anna worked 9:00-10:00 only
    engine = replay([call(7, 0, leg(ANNA, 0, 300)), call(7, 70)], [], worked)
    assert engine.tallies["in force"].misses == {"offline": 1}


def test_an_escalation_the_caller_gave_up_on_still_sends_the_callback_to_the_specialist() -> None:
    first = call(7, 0, leg(ANNA, 0, 200), leg(SPEC, 4, 0, transferred=True))
    engine = replay([first, call(7, 40)], [])
    now = engine.tallies["in force"]
    assert now.sticky_load == {SPEC.id: 1}


def test_a_misdial_is_no_history_and_not_a_miss() -> None:
    engine = replay([call(7, 0, leg(ANNA, 0, 4)), call(7, 20)], [glob("min_talk_seconds", 3)])
    now, then = engine.tallies["in force"], engine.tallies["candidate"]
    assert (now.eligible, now.misses) == (0, {})
    assert (then.eligible, then.connected) == (1, 1)


def test_the_sticky_cap_counts_the_candidate_settings_own_connections() -> None:
    calls = [
        call(7, 0, leg(ANNA, 0, 60)),
        call(8, 3, leg(ANNA, 3, 60)),
        call(7, 20),  # connected to Anna: her first sticky call of the hour
        call(8, 40),  # her second: over a cap of 1
    ]
    engine = replay(calls, [glob("sticky_cap_per_hour", 1)])
    assert engine.tallies["in force"].connected == 2
    then = engine.tallies["candidate"]
    assert (then.connected, then.misses) == (1, {"cap_reached": 1})
    assert then.peak_hour_load == {ANNA.id: 1}


def test_scoped_candidate_settings_apply_only_to_their_queue() -> None:
    first, back = call(7, 0, leg(ANNA, 0, 300)), call(7, 95)
    engine = replay([first, back], [ScopedValue(Scope.QUEUE, "sales", "window_minutes", 60)])
    assert engine.tallies["candidate"].connected == 1  # the call was in queue support


def test_overlay_replaces_the_stored_value_of_the_same_scope_and_key() -> None:
    stored = [glob("window_minutes", 120), glob("busy_wait_seconds", 10)]
    merged = overlay(stored, [glob("window_minutes", 240)])
    assert sorted((r.key, r.value) for r in merged) == [
        ("busy_wait_seconds", 10),
        ("window_minutes", 240),
    ]


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("window_minutes=-5", "window_minutes"),
        ("ring_timeout_seconds=121", "ring_timeout_seconds"),
        ("windw_minutes=10", "windw_minutes"),
        ("target_precedence=whoever", "target_precedence"),
        ("window_minutes", "key=value"),
    ],
)
def test_a_bad_candidate_setting_is_refused_naming_the_field(text: str, named: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match=named):
        setting(text)


def test_candidate_settings_and_scopes_are_parsed() -> None:
    assert setting("window_minutes=240") == ("window_minutes", 240)
    assert setting("announce=false") == ("announce", False)
    assert setting("target_precedence=owner_first") == ("target_precedence", "owner_first")
    assert scope("global") == (Scope.GLOBAL, None)
    assert scope("customer_class:vip") == (Scope.CUSTOMER_CLASS, "vip")
    for bad in ("queue", "queue:", "planet:mars", "default", "global:x"):
        with pytest.raises(argparse.ArgumentTypeError):
            scope(bad)


def test_history_is_kept_for_the_longest_window_a_setting_allows() -> None:
    longest = int(simulate.MAX_WINDOW.total_seconds() // 60)
    assert setting(f"window_minutes={longest}") == ("window_minutes", longest)
    with pytest.raises(argparse.ArgumentTypeError):
        setting(f"window_minutes={longest + 1}")


def test_window_expired_means_the_same_whatever_the_other_settings() -> None:
    """A conversation 5 hours before is 'window expired' (not 'no history') in every column."""
    calls = [call(7, 0, leg(ANNA, 0, 300)), call(7, 300)]
    alone = replay(calls, [])
    wide = replay(calls, [glob("window_minutes", 60 * 24)])
    assert alone.tallies["in force"].misses == wide.tallies["in force"].misses
    assert alone.tallies["in force"].misses == {"window_expired": 1}


def test_history_older_than_the_longest_window_is_forgotten() -> None:
    month = simulate.MAX_WINDOW
    old = call(7, 0, leg(ANNA, 0, 300))
    at = month.total_seconds() / 60 + 24 * 60  # a month and a day later
    engine = replay([old, call(8, at, leg(BORIS, at, 60))], [])
    assert list(vars(engine)["_history"]) == [("customer", 8)]


def offered(choices: CallerChoices, *candidate: ScopedValue) -> Tally:
    """Anna's caller calls back at 30 while Anna is busy until 31:05 (65 s more): the candidate
    settings with the wait offer, replayed with what callers are assumed to choose."""
    calls = [call(7, 0, leg(ANNA, 0, 300)), call(8, 29, leg(ANNA, 29, 120)), call(7, 30)]
    worked = RecordedAvailability(every_hour_worked(ANNA, BORIS, SPEC))
    engine = Replay(WORLD, {"candidate": list(candidate)}, worked, choices=choices)
    engine.replay(calls)
    return engine.tallies["candidate"]


def test_a_caller_who_presses_1_waits_for_their_agent_and_one_who_does_not_is_a_miss() -> None:
    waits = offered(CallerChoices(wait=1.0), glob("wait_offer_seconds", 300))
    assert (waits.eligible, waits.connected, dict(waits.waits)) == (1, 1, {65: 1})
    declines = offered(CallerChoices(wait=0.0), glob("wait_offer_seconds", 300))
    assert (declines.connected, declines.misses) == (0, {"busy": 1})
    short = offered(CallerChoices(wait=1.0), glob("wait_offer_seconds", 60))
    assert (short.connected, short.wait_added_seconds) == (0, 60)  # the bound came first


def test_a_callback_reaches_the_caller_once_the_agent_is_free_if_they_answer() -> None:
    settings = (glob("wait_offer_seconds", 300), glob("callback_expiry_minutes", 60))
    called = offered(CallerChoices(wait=0.0, callback=1.0, callback_answered=1.0), *settings)
    assert (called.connected, dict(called.callbacks), called.wait_added_seconds) == (1, {2: 1}, 0)
    assert called.median_callback_minutes == 2  # Anna free 65 s after the call: 2nd minute
    unanswered = offered(CallerChoices(wait=0.0, callback=1.0, callback_answered=0.0), *settings)
    assert (unanswered.connected, unanswered.misses) == (0, {"callback_lapsed": 1})
    not_offered = offered(CallerChoices(wait=0.0, callback=1.0), glob("wait_offer_seconds", 300))
    assert (not_offered.connected, not_offered.callbacks) == (0, {})  # no 2 without callbacks
