"""The wait offer (issue 16): what a caller whose agent is busy hears, and what the walk does
with their choice."""

from __future__ import annotations

from datetime import timedelta

import pytest

import sticky_router.web.i18n.settings  # noqa: F401 - registers the words
from sticky_router.process.prompts import PROMPTS
from sticky_router.routing_core.attempt import Availability
from sticky_router.routing_core.callback_dialer import free_in_queue, in_wrap_up
from sticky_router.routing_core.candidates import Walk, run_at_once, walk_candidates
from sticky_router.routing_core.decision import Candidate, StickyDecision
from sticky_router.routing_core.live import MemberFacts
from sticky_router.routing_core.policy import decide
from sticky_router.routing_core.replay_assumptions import (
    CALLBACK_ANSWERED_SHARE,
    CALLBACK_SHARE,
    WAIT_ACCEPT_SHARE,
    accepts_wait,
)
from sticky_router.routing_core.service import claim_hold
from sticky_router.routing_core.settings import RoutingSettings
from sticky_router.routing_core.store.callbacks import DueCallback
from sticky_router.routing_core.wait_offer import (
    CALLBACK_CONFIRMED,
    MOST_MINUTES_SAID,
    ON_ANOTHER_CALL,
    PRESS_1_OR_2,
    PRESS_1_TO_WAIT,
    WaitChoice,
    about_minutes,
    callback_number,
    callback_request,
    choice_of,
    estimated_minutes,
    wait_offer,
)
from sticky_router.web.i18n.words import translate
from tests.factories import NOW, call, facts, interaction, settings, talk
from tests.unit.test_candidates import BUSY, FREE, PAUSED, ScriptedProbe, candidate


class OfferingProbe(ScriptedProbe):
    """A scripted probe whose caller answers the offer with `choice`."""

    def __init__(self, choice: WaitChoice, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.choice = choice
        self.offered: list[int] = []
        self.on_hold: list[tuple[int, float]] = []

    async def offer_wait(self, candidate: Candidate) -> WaitChoice:
        self.offered.append(candidate.agent.id)
        return self.choice

    async def wait_on_hold(
        self, candidate: Candidate, seconds: float
    ) -> tuple[Availability, float]:
        self.on_hold.append((candidate.agent.id, seconds))
        return await self.wait_until_free(candidate, seconds)


def walk(probe: ScriptedProbe, ids: list[int], *, offer: float, busy_wait: float = 0) -> Walk:
    return run_at_once(
        walk_candidates(
            [candidate(i) for i in ids],
            probe,
            busy_wait_seconds=busy_wait,
            detour_budget_seconds=20,
            wait_offer_seconds=offer,
        )
    )


def test_pressing_1_waits_on_hold_up_to_the_offer_not_the_detour_budget() -> None:
    probe = OfferingProbe(WaitChoice.WAIT, {1: BUSY, 2: FREE}, free_in={1: 95.0})
    result = walk(probe, [1, 2], offer=120)
    assert result.chosen is not None
    assert result.chosen.agent.id == 1
    assert (probe.offered, probe.on_hold) == ([1], [(1, 120)])
    assert (result.offer, result.waited_seconds) == (WaitChoice.WAIT, 95.0)


def test_a_wait_that_reaches_its_bound_goes_on_without_more_waiting() -> None:
    probe = OfferingProbe(WaitChoice.WAIT, {1: BUSY, 2: BUSY})
    result = walk(probe, [1, 2], offer=60, busy_wait=10)
    assert result.chosen is None
    assert result.first_miss == "busy"
    assert probe.waits == [(1, 60)]  # agent 2: the detour budget is spent
    assert probe.let_go_of == [(1, "busy"), (2, "busy")]


@pytest.mark.parametrize("choice", [WaitChoice.DECLINED, WaitChoice.NO_KEY])
def test_declining_or_not_answering_means_nobody_is_waited_for(choice: WaitChoice) -> None:
    probe = OfferingProbe(choice, {1: BUSY, 2: BUSY, 3: FREE}, free_in={1: 1.0, 2: 1.0})
    result = walk(probe, [1, 2, 3], offer=120, busy_wait=15)
    assert result.chosen is not None
    assert result.chosen.agent.id == 3  # a free colleague: yes
    assert (probe.waits, probe.on_hold) == ([], [])
    assert (result.offer, result.first_miss) == (choice, "busy")


def test_an_offer_not_made_leaves_the_silent_busy_wait() -> None:
    probe = OfferingProbe(WaitChoice.NOT_OFFERED, {1: BUSY}, free_in={1: 4.0})
    result = walk(probe, [1], offer=120, busy_wait=10)
    assert result.chosen is not None
    assert (probe.waits, probe.on_hold) == ([(1, 10)], [])


def test_only_the_callers_own_agent_busy_is_offered() -> None:
    paused_first = OfferingProbe(WaitChoice.WAIT, {1: PAUSED, 2: BUSY})
    assert walk(paused_first, [1, 2], offer=120).offer is None
    assert paused_first.offered == []
    free = OfferingProbe(WaitChoice.WAIT, {1: FREE})
    assert walk(free, [1], offer=120).offer is None
    off = OfferingProbe(WaitChoice.WAIT, {1: BUSY})
    assert walk(off, [1], offer=0).offer is None
    assert off.offered == []


def test_the_key_decides() -> None:
    assert choice_of("1") is WaitChoice.WAIT
    assert choice_of("2") is WaitChoice.DECLINED
    assert choice_of("#") is WaitChoice.DECLINED
    assert choice_of("") is WaitChoice.NO_KEY


@pytest.mark.parametrize(
    ("elapsed", "typical", "minutes"),
    [
        (None, 300.0, 5),  # their current call is not ours: a typical call from its start
        (60.0, 300.0, 4),
        (299.0, 300.0, 1),  # rounded up: "about one minute"
        (900.0, 300.0, 1),  # running long: it ends any moment, as far as we know
        (0.0, 61.0, 2),
        (120.0, None, None),  # no answered call in 30 days: no estimate
        (120.0, 0.0, None),
    ],
)
def test_the_estimate_is_what_is_typically_left_of_the_call(
    elapsed: float | None, typical: float | None, minutes: int | None
) -> None:
    assert estimated_minutes(elapsed, typical) == minutes


def test_the_offer_says_the_estimate_and_never_promises_more_than_it_waits() -> None:
    offer = wait_offer(3, answer_seconds=5, wait_seconds=180)
    assert offer is not None
    assert offer.sounds == (ON_ANOTHER_CALL, about_minutes(3), PRESS_1_TO_WAIT)
    assert wait_offer(4, answer_seconds=5, wait_seconds=180) is None  # 4 min > 3 min allowed
    unknown = wait_offer(None, answer_seconds=5, wait_seconds=180)
    assert unknown is not None
    assert unknown.sounds == (ON_ANOTHER_CALL, PRESS_1_TO_WAIT)
    long_wait = wait_offer(12, answer_seconds=5, wait_seconds=900)
    assert long_wait is not None
    assert long_wait.sounds == (ON_ANOTHER_CALL, PRESS_1_TO_WAIT)  # no prompt past 10 minutes
    assert wait_offer(1, answer_seconds=5, wait_seconds=0) is None


def test_every_sound_the_offer_can_play_is_a_prompt_the_product_ships() -> None:
    names = {ON_ANOTHER_CALL, PRESS_1_TO_WAIT}
    names |= {about_minutes(m) for m in range(1, MOST_MINUTES_SAID + 1)}
    assert {name.removeprefix("sticky-router/") for name in names} <= set(PROMPTS)
    assert "около трёх минут" in PROMPTS["about-3-minutes"]["ru"]
    assert PROMPTS["about-1-minutes"]["en"] == "The wait is about one minute."


def test_a_claim_holds_its_agent_through_the_offer_and_the_chosen_wait() -> None:
    off = RoutingSettings(ring_timeout_seconds=15)
    on = RoutingSettings(ring_timeout_seconds=15, wait_offer_seconds=300)
    added = (claim_hold(on, 0) - claim_hold(off, 0)).total_seconds()
    assert added > on.wait_offer_seconds + on.wait_offer_answer_seconds + 10  # and the prompts


def test_the_replays_accepting_callers_are_the_stated_share_and_always_the_same() -> None:
    ids = [f"1700000000.{n}" for n in range(10_000)]
    share = sum(accepts_wait(i, 0.3) for i in ids) / len(ids)
    assert 0.28 < share < 0.32
    assert [accepts_wait(i, 0.3) for i in ids[:50]] == [accepts_wait(i, 0.3) for i in ids[:50]]
    assert not any(accepts_wait(i, 0.0) for i in ids)
    assert all(accepts_wait(i, 1.0) for i in ids)


def test_the_pages_state_the_replays_assumption_as_it_is() -> None:
    """The settings and what-if pages state the replay's assumptions in words."""
    assert (WAIT_ACCEPT_SHARE, CALLBACK_SHARE, CALLBACK_ANSWERED_SHARE) == (0.5, 0.3, 0.8)
    assert "3 in 10 press 2, of whom 8 in 10" in translate("en", "settings.assumptions")
    assert "half the callers press 1" in translate("en", "settings.assumptions")
    assert "половина нажимает 1" in translate("ru", "settings.assumptions")


# -- the callback (2) ------------------------------------------------------------------------


def sticky_to_agent2(number: str | None = "+79123456701", **knobs: object) -> StickyDecision:
    decision = decide(call(), facts(interaction(30, talk(2, 300, 30))), settings(**knobs), number)
    assert isinstance(decision, StickyDecision)
    return decision


def test_2_is_a_callback_only_where_one_is_offered() -> None:
    assert choice_of("2", callback_offered=True) is WaitChoice.CALLBACK
    assert choice_of("2") is WaitChoice.DECLINED  # no callbacks here: the next free agent
    offered = wait_offer(3, answer_seconds=5, wait_seconds=600, callback=True)
    assert offered is not None
    assert offered.sounds[-1] == PRESS_1_OR_2
    assert offered.choice("2") is WaitChoice.CALLBACK
    assert offered.choice("1") is WaitChoice.WAIT


def test_pressing_2_ends_the_walk_with_nobody_rung_or_waited_for() -> None:
    probe = OfferingProbe(WaitChoice.CALLBACK, {1: BUSY, 2: FREE})
    result = walk(probe, [1, 2], offer=600, busy_wait=10)
    assert result.chosen is None  # not even a free colleague: the caller is leaving
    assert result.offer is WaitChoice.CALLBACK
    assert (probe.waits, probe.on_hold, probe.claims) == ([], [], [])
    assert probe.let_go_of == [(1, "callback")]


def test_the_callback_is_the_agents_until_its_time_runs_out() -> None:
    decision = sticky_to_agent2(callback_expiry_minutes=90)
    asked = callback_request(decision, NOW)
    assert asked is not None
    assert (asked.agent, asked.number, asked.queue) == ("agent2", "+79123456701", "support")
    assert asked.expires_at - asked.at == timedelta(minutes=90)
    assert callback_request(sticky_to_agent2(callback_expiry_minutes=0), NOW) is None
    for hostile in (None, "+7912,3", "100201#", "anonymous"):  # nothing safe to dial
        assert callback_number(sticky_to_agent2(hostile, callback_expiry_minutes=90)) is None
        assert callback_request(sticky_to_agent2(hostile, callback_expiry_minutes=90), NOW) is None


def test_the_dialer_rings_an_agent_only_free_in_the_callbacks_queue() -> None:
    owed = DueCallback(1, 2, "agent2", "PJSIP/agent2", "PJSIP/agent2", "+79123456701", "support")

    def member(queue: str = "support", interface: str = "PJSIP/Agent2", state: str = "NOT_INUSE",
               paused: bool = False) -> MemberFacts:  # fmt: skip
        return MemberFacts(queue, interface, state, paused)

    assert free_in_queue([member()], owed)  # Asterisk compares interfaces without case
    assert not free_in_queue([member(queue="second-line")], owed)
    assert not free_in_queue([member(state="INUSE")], owed)
    assert not free_in_queue([member(state="RINGING")], owed)
    assert not free_in_queue([member(paused=True)], owed)
    asked_now = DueCallback(1, 2, "agent2", "PJSIP/agent2", "PJSIP/agent2", "+7912", "support",
                            asked_now=True)  # fmt: skip
    assert free_in_queue([member(paused=True)], asked_now)  # "call now" from a pause
    assert not free_in_queue([member(paused=True, state="INUSE")], asked_now)
    assert not free_in_queue([member(interface="PJSIP/agent1")], owed)
    assert not free_in_queue([], owed)  # logged out


def test_the_callback_prompts_are_shipped() -> None:
    for sound in (PRESS_1_OR_2, CALLBACK_CONFIRMED):
        assert sound.removeprefix("sticky-router/") in PROMPTS


def test_the_dialer_waits_out_the_agents_wrap_up_unless_they_asked_now() -> None:
    ended = NOW - timedelta(seconds=20)
    owed = DueCallback(1, 2, "agent2", "PJSIP/agent2", "PJSIP/agent2", "+79123456701", "support",
                       last_talk_ended_at=ended)  # fmt: skip
    assert in_wrap_up(owed, NOW, 30)  # 20 s into 30 s of after-call work
    assert not in_wrap_up(owed, NOW, 20)  # over at exactly 20 s
    assert not in_wrap_up(owed, NOW, 0)  # the line gives no wrap-up
    never_talked = DueCallback(1, 2, "agent2", "PJSIP/agent2", "PJSIP/agent2", "+7912", "support")
    assert not in_wrap_up(never_talked, NOW, 30)
    asked_now = DueCallback(1, 2, "agent2", "PJSIP/agent2", "PJSIP/agent2", "+7912", "support",
                            asked_now=True, last_talk_ended_at=ended)  # fmt: skip
    assert not in_wrap_up(asked_now, NOW, 30)  # "call now": their after-call work is done
