"""Which of the ordered candidates gets rung: one rule for the router and the what-if replay.

The policy orders the candidates (docs/routing.md, "Choosing the target"); this walks them at
call time. Each candidate after the first is claimed before anything else (the first was claimed
with the decision); one that is free is the one to ring; a busy one may be waited for, up to
`busy_wait_seconds` each and `detour_budget_seconds` in all, so the caller's added wait stays
bounded however many candidates there are; paused, logged out or unreachable ones are passed
over at once, and their claim let go. Only one candidate is ever rung: after a ring that is not
answered the caller goes to the queue.

With the wait offer on (`wait_offer_seconds`), the caller's own agent (the first candidate) found
busy is not waited for silently: the caller is asked (routing_core.wait_offer). Pressing 1, they
wait on hold up to `wait_offer_seconds` (their choice, outside the detour budget); pressing 2 (a
callback), the walk ends there with nobody chosen; declining or not answering, nobody more is
waited for. An offer not made (the estimate is longer than the
wait allowed) leaves the silent busy wait as it was.

The walk is async because the router's probe asks Asterisk; the replay's probe answers from
recorded history without ever suspending, and runs the same coroutine with `run_at_once`.
"""

from __future__ import annotations

from collections.abc import Coroutine, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from sticky_router.routing_core.attempt import Availability
from sticky_router.routing_core.decision import Candidate, CandidateReason, StickyDecision
from sticky_router.routing_core.dialplan_safe import is_endpoint, is_queue, is_state_interface
from sticky_router.routing_core.slot_init import slot_init
from sticky_router.routing_core.wait_offer import WaitChoice

T = TypeVar("T")


class CandidateProbe(Protocol):
    async def claim(self, candidate: Candidate) -> bool:
        """Hold the agent for this call; False when another call holds them."""

    async def availability(self, candidate: Candidate) -> Availability: ...

    async def wait_until_free(
        self, candidate: Candidate, seconds: float
    ) -> tuple[Availability, float]:
        """Wait up to `seconds` for a busy agent; what was found, and the seconds it took."""

    async def let_go(self, candidate: Candidate, reason: str) -> None:
        """Release a candidate that is passed over."""

    async def offer_wait(self, candidate: Candidate) -> WaitChoice:
        """Tell the caller their agent is on another call and read their choice (the prompts
        and the timing are the decision's settings: routing_core.wait_offer)."""

    async def wait_on_hold(
        self, candidate: Candidate, seconds: float
    ) -> tuple[Availability, float]:
        """Like `wait_until_free`, with the caller on hold (they chose to wait)."""


# What the walk found a candidate to be that no Availability says: another call's claim.
CLAIMED_ELSEWHERE = "claimed_elsewhere"
FOUND = (*(a.value for a in Availability), CLAIMED_ELSEWHERE)  # a closed set, for the metrics


@slot_init
@dataclass(frozen=True, slots=True)
class Walk:
    chosen: Candidate | None  # the candidate to ring, None: the queue
    first_miss: str | None  # why the first candidate passed over was (the report's reason)
    waited_seconds: float  # the busy waits
    # What each candidate looked at was found to be, in order (after any wait): one of FOUND.
    found: tuple[str, ...] = ()
    offer: WaitChoice | None = None  # what came of the wait offer, None: not reached


async def walk_candidates(
    candidates: Sequence[Candidate],
    probe: CandidateProbe,
    *,
    busy_wait_seconds: float,
    detour_budget_seconds: float,
    wait_offer_seconds: float = 0,
) -> Walk:
    waited = 0.0
    first_miss: str | None = None
    seen: list[str] = []
    offer: WaitChoice | None = None
    for position, candidate in enumerate(candidates):
        if position > 0 and not await probe.claim(candidate):
            seen.append(CLAIMED_ELSEWHERE)
            first_miss = first_miss or Availability.BUSY.value  # ringing for another callback
            continue
        found = await probe.availability(candidate)
        if found is Availability.BUSY and position == 0 and wait_offer_seconds > 0:
            offer = await probe.offer_wait(candidate)
            if offer is WaitChoice.CALLBACK:  # the caller leaves; their agent will call back
                await probe.let_go(candidate, WaitChoice.CALLBACK.value)
                return Walk(None, Availability.BUSY.value, waited, (*seen, found.value), offer)
            if offer is WaitChoice.WAIT:
                found, took = await probe.wait_on_hold(candidate, wait_offer_seconds)
                waited += took
            elif offer is not WaitChoice.NOT_OFFERED:
                busy_wait_seconds = 0  # they chose the next free agent: no silent waits
        allowed = min(busy_wait_seconds, detour_budget_seconds - waited)
        if found is Availability.BUSY and allowed > 0 and offer is not WaitChoice.WAIT:
            found, took = await probe.wait_until_free(candidate, allowed)
            waited += took
        seen.append(found.value)
        if found is Availability.FREE:
            return Walk(candidate, first_miss, waited, tuple(seen), offer)
        first_miss = first_miss or found.value
        await probe.let_go(candidate, found.value)
    return Walk(None, first_miss, waited, tuple(seen), offer)


def queue_to_check(decision: StickyDecision, candidate: Candidate) -> str | None:
    """The queue whose membership and pause say whether `candidate` may be rung: for the
    specialist of an escalation, the second-line queue escalations go to (where they work);
    otherwise the call's own. None when that queue name or any of the agent's PBX names
    (endpoint, member and state interfaces, phones) could not go into a dialplan function or
    Dial() as it is: such a candidate is unreachable."""
    escalation = candidate.reason is CandidateReason.ESCALATED_TO_SPECIALIST
    second_line = decision.fallback_queue
    queue = second_line if escalation and second_line else decision.context.call.queue
    agent = candidate.agent
    if not (
        is_queue(queue)
        and is_endpoint(agent.endpoint)
        and is_endpoint(agent.member_interface)
        and is_state_interface(agent.state_source)
        and all(is_endpoint(phone) for phone in agent.phones)
    ):
        return None
    return queue


def run_at_once(work: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine that never suspends (a probe answering from memory) without a loop."""
    try:
        work.send(None)
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]
    work.close()
    raise RuntimeError("the coroutine suspended: it needs an event loop")
