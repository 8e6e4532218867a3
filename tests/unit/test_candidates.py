"""The candidate walk: which of the ordered candidates is rung, within one detour budget."""

from __future__ import annotations

from dataclasses import replace

import pytest

from sticky_router.routing_core.attempt import Availability
from sticky_router.routing_core.candidates import Walk, queue_to_check, run_at_once, walk_candidates
from sticky_router.routing_core.decision import Candidate, CandidateReason, StickyDecision
from sticky_router.routing_core.model import Agent, AgentRole
from sticky_router.routing_core.policy import decide
from sticky_router.routing_core.wait_offer import WaitChoice
from tests.factories import call, facts, interaction, settings, talk, transfer_unanswered

FREE, BUSY, PAUSED, OFFLINE = (
    Availability.FREE,
    Availability.BUSY,
    Availability.PAUSED,
    Availability.OFFLINE,
)


def candidate(agent_id: int, reason: CandidateReason = CandidateReason.LAST_AGENT) -> Candidate:
    agent = Agent(
        agent_id, f"agent{agent_id}", f"Agent {agent_id}", f"PJSIP/agent{agent_id}",
        AgentRole.FIRST_LINE, active=True,
    )  # fmt: skip
    return Candidate(agent, reason)


class ScriptedProbe:
    """Each agent's state now, and after how many seconds a busy one comes free (None: not
    within any wait). Records what the walk asked."""

    def __init__(
        self,
        states: dict[int, Availability],
        free_in: dict[int, float] | None = None,
        claimed_elsewhere: frozenset[int] = frozenset(),
    ) -> None:
        self.states = states
        self.free_in = free_in or {}
        self.claimed_elsewhere = claimed_elsewhere
        self.claims: list[int] = []
        self.let_go_of: list[tuple[int, str]] = []
        self.waits: list[tuple[int, float]] = []

    async def claim(self, candidate: Candidate) -> bool:
        self.claims.append(candidate.agent.id)
        return candidate.agent.id not in self.claimed_elsewhere

    async def availability(self, candidate: Candidate) -> Availability:
        return self.states[candidate.agent.id]

    async def wait_until_free(
        self, candidate: Candidate, seconds: float
    ) -> tuple[Availability, float]:
        self.waits.append((candidate.agent.id, seconds))
        needed = self.free_in.get(candidate.agent.id)
        if needed is not None and needed <= seconds:
            return FREE, needed
        return BUSY, seconds

    async def let_go(self, candidate: Candidate, reason: str) -> None:
        self.let_go_of.append((candidate.agent.id, reason))

    async def offer_wait(self, candidate: Candidate) -> WaitChoice:
        raise AssertionError("no wait offer without wait_offer_seconds")

    async def wait_on_hold(
        self, candidate: Candidate, seconds: float
    ) -> tuple[Availability, float]:
        raise AssertionError("nobody on hold without the wait offer")


def chosen_id(result: Walk) -> int | None:
    return result.chosen.agent.id if result.chosen is not None else None


def walk(probe: ScriptedProbe, ids: list[int], busy_wait: float = 0, budget: float = 20) -> Walk:
    return run_at_once(
        walk_candidates(
            [candidate(i) for i in ids],
            probe,
            busy_wait_seconds=busy_wait,
            detour_budget_seconds=budget,
        )
    )


def test_a_free_first_candidate_is_rung_and_nobody_else_is_claimed() -> None:
    probe = ScriptedProbe({1: FREE, 2: FREE})
    result = walk(probe, [1, 2])
    assert (chosen_id(result), result.first_miss) == (1, None)
    assert probe.claims == []  # the first was claimed with the decision


def test_the_second_candidate_is_claimed_and_rung_when_the_first_is_paused() -> None:
    probe = ScriptedProbe({1: PAUSED, 2: FREE})
    result = walk(probe, [1, 2])
    assert chosen_id(result) == 2
    assert result.first_miss == "paused"
    assert probe.claims == [2]
    assert probe.let_go_of == [(1, "paused")]


def test_a_candidate_another_callback_holds_is_passed_over_as_busy() -> None:
    probe = ScriptedProbe({1: OFFLINE, 2: FREE, 3: FREE}, claimed_elsewhere=frozenset({2}))
    result = walk(probe, [1, 2, 3])
    assert chosen_id(result) == 3
    assert result.first_miss == "offline"


def test_nobody_free_means_the_queue_with_the_first_reason() -> None:
    probe = ScriptedProbe({1: BUSY, 2: OFFLINE})
    result = walk(probe, [1, 2])
    assert (result.chosen, result.first_miss, result.waited_seconds) == (None, "busy", 0)
    assert probe.let_go_of == [(1, "busy"), (2, "offline")]


def test_the_walk_says_what_each_candidate_it_looked_at_was_found_to_be() -> None:
    """What the metrics count (sticky_router_candidate_checks): after any wait, in order, a
    claim held by another call included, and nothing for candidates never reached."""
    probe = ScriptedProbe(
        {1: BUSY, 2: FREE, 3: PAUSED, 4: FREE, 5: FREE},
        free_in={1: 30},
        claimed_elsewhere=frozenset({2}),
    )
    result = walk(probe, [1, 2, 3, 4, 5], busy_wait=10)
    assert chosen_id(result) == 4
    assert result.found == ("busy", "claimed_elsewhere", "paused", "free")
    queued = walk(ScriptedProbe({1: BUSY}, free_in={1: 3}), [1], busy_wait=5)
    assert (chosen_id(queued), queued.found) == (1, ("free",))  # free after the wait


def test_busy_candidates_share_one_detour_budget() -> None:
    probe = ScriptedProbe({1: BUSY, 2: BUSY, 3: BUSY})
    result = walk(probe, [1, 2, 3], busy_wait=15, budget=20)
    assert probe.waits == [(1, 15), (2, 5)]  # the third gets no wait at all
    assert (result.chosen, result.waited_seconds) == (None, 20)


def test_a_busy_candidate_coming_free_within_the_wait_is_rung() -> None:
    probe = ScriptedProbe({1: BUSY, 2: FREE}, free_in={1: 4})
    result = walk(probe, [1, 2], busy_wait=15)
    assert chosen_id(result) == 1
    assert result.waited_seconds == 4


@pytest.mark.parametrize("state", [PAUSED, OFFLINE, Availability.UNREACHABLE])
def test_paused_offline_or_unreachable_are_never_waited_for(state: Availability) -> None:
    probe = ScriptedProbe({1: state})
    walk(probe, [1], busy_wait=30, budget=30)
    assert probe.waits == []


def test_a_probe_that_suspends_cannot_run_without_a_loop() -> None:
    async def suspends() -> None:
        import asyncio

        await asyncio.sleep(0)

    with pytest.raises(RuntimeError):
        run_at_once(suspends())


def test_a_specialist_is_checked_in_second_line_everyone_else_in_the_calls_queue() -> None:
    handed = interaction(25, talk(1, 180, 26), transfer_unanswered(3, 25))
    decision = decide(call(), facts(handed), settings(escalation_queue="second-line"))
    assert isinstance(decision, StickyDecision)
    specialist = decision.target
    assert queue_to_check(decision, specialist) == "second-line"
    assert queue_to_check(decision, candidate(2)) == "support"
    no_second_line = replace(decision, fallback_queue=None)
    assert queue_to_check(no_second_line, specialist) == "support"
    hostile_queue = replace(decision, fallback_queue="q,1)")
    assert queue_to_check(hostile_queue, specialist) is None
    assert queue_to_check(decision, replace(candidate(2), agent=replace(
        candidate(2).agent, endpoint="PJSIP/a&PJSIP/b"))) is None  # fmt: skip
