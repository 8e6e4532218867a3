"""The one entry point adapters call: a call in, a decision out, within the database budget.

Whatever goes wrong in here (a slow or absent database, a bug) the answer is still a decision: the
queue, with the reason. A call is never dropped because of this product.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import structlog

from sticky_router.routing_core.caller_key import keys_in_priority
from sticky_router.routing_core.candidates import CandidateProbe, Walk, walk_candidates
from sticky_router.routing_core.decision import (
    Candidate,
    Decision,
    DecisionContext,
    ExcludedCandidate,
    Exclusion,
    QueueDecision,
    QueueReason,
    StickyDecision,
)
from sticky_router.routing_core.model import CallerKey, Identity, IncomingCall
from sticky_router.routing_core.observer import (
    RoutingObserver,
    notify_decision,
    notify_detour_ended,
    notify_wait_offered,
)
from sticky_router.routing_core.policy import decide
from sticky_router.routing_core.settings import DEFAULT_SETTINGS, RoutingSettings, resolve_settings
from sticky_router.routing_core.store import Connection
from sticky_router.routing_core.store.agent_talk import talk_times
from sticky_router.routing_core.store.claims import claim_agent, release_claim, release_claims
from sticky_router.routing_core.store.lookup import read_facts
from sticky_router.routing_core.store.presence import MemberElsewhere, members_elsewhere
from sticky_router.routing_core.wait_offer import (
    WaitOffer,
    callback_number,
    estimated_minutes,
    wait_offer,
)

log = structlog.get_logger("sticky_router.decision")

# A claim outlives the ring timeout and busy wait by this much, to cover the announcement and
# the hand-over; adapters release it as soon as the attempt ends anyway.
CLAIM_MARGIN = timedelta(seconds=30)
# What the wait offer's prompts take to say (about 10 s), with room: part of a claim's hold.
OFFER_PROMPTS = 20


def claim_hold(knobs: RoutingSettings, waits_seconds: int) -> timedelta:
    """How long a claim holds its agent: the ring, the waits the walk may make (`waits_seconds`)
    and, when the wait offer is on, its prompts, the caller's answer and their chosen wait."""
    offer = 0
    if knobs.wait_offer_seconds > 0:
        offer = OFFER_PROMPTS + knobs.wait_offer_answer_seconds + knobs.wait_offer_seconds
    seconds = knobs.ring_timeout_seconds + waits_seconds + offer
    return timedelta(seconds=seconds) + CLAIM_MARGIN


BeforeClaimHook = Callable[[IncomingCall], Awaitable[None]]
# Told a sticky decision as soon as it is made, before its claim is written: an adapter may send
# the PBX its first requests for the first candidate meanwhile (ari_app/hand_over.py). The
# decision it is told may still change: the claim can move it on to a later candidate, or a
# database past its budget can turn it into the queue.
DecidedHook = Callable[[StickyDecision], None]


class RoutingService:
    def __init__(
        self,
        pool: asyncpg.Pool,
        *,
        default_region: str,
        db_budget_seconds: float,
        before_claim: BeforeClaimHook | None = None,
        observer: RoutingObserver | None = None,
        ticket_mirror: str | None = None,
        node: str | None = None,
    ) -> None:
        self._pool = pool
        # This router's Asterisk node, when the line has several (issue 17); None: one node.
        self.node = node
        # The external ticket source whose mirror holds the tickets (None: the built-in tables).
        # Only the mirror is read here: the source itself is never on the call's path.
        self._ticket_mirror = ticket_mirror
        self._region = default_region
        self._budget = db_budget_seconds
        # Tests widen the race between reading the candidates and claiming one through this hook.
        self._before_claim = before_claim
        self._background: set[asyncio.Future[Any]] = set()
        self._observer = observer

    async def decide(
        self, call: IncomingCall, *, claim: bool = True, decided: DecidedHook | None = None
    ) -> Decision:
        """Decide, and claim the target agent for this call. `claim=False` only previews (the
        `decide` command, what-if tools): nothing is written. `decided` is told a sticky
        decision before its claim is written (DecidedHook)."""
        started = time.perf_counter()
        keys, number = keys_in_priority(
            call.caller_id, call.ivr_ticket, call.ivr_account, self._region
        )
        # The budget is the caller's wait, whatever the database does. Cancelling a query on a
        # connection that stopped answering makes asyncpg wait for the connection's own cleanup
        # (up to its command timeout, 10 s, measured with a stalled network): that cleanup is
        # left to run in the background, and the caller goes to the queue on time.
        deciding = asyncio.ensure_future(self._decide(call, keys, number, claim, decided))
        try:
            decision = await asyncio.wait_for(asyncio.shield(deciding), self._budget)
        except TimeoutError:
            decision = self._fallback(call, keys, number, QueueReason.DB_TIMEOUT)
            self._abandon(deciding)
            self._release_in_background(call)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
            log.warning("database_unavailable", call_id=call.call_id, error=type(error).__name__)
            decision = self._fallback(call, keys, number, QueueReason.DB_ERROR)
        except Exception:
            log.exception("decision_failed", call_id=call.call_id)
            decision = self._fallback(call, keys, number, QueueReason.ROUTER_ERROR)
        elapsed = time.perf_counter() - started
        _log_decision(decision, elapsed)
        if claim:
            notify_decision(
                self._observer, decision.route.value, _reason(decision), elapsed, call.queue
            )
        return decision

    async def walk(self, decision: StickyDecision, probe: CandidateProbe) -> Walk:
        """Which of the decision's candidates is rung (None: the queue), with the decision's
        own busy-wait and detour limits; the seconds this added to the caller's wait and what
        the candidates were found to be go to the observer. An error propagates untold: the
        adapter's safety net sends the caller to the queue."""
        knobs = decision.context.settings.values
        started = time.perf_counter()
        walk = await walk_candidates(
            decision.candidates,
            probe,
            busy_wait_seconds=knobs.busy_wait_seconds,
            detour_budget_seconds=knobs.detour_budget_seconds,
            wait_offer_seconds=knobs.wait_offer_seconds,
        )
        took = time.perf_counter() - started
        notify_detour_ended(self._observer, walk.chosen is not None, took, walk.found)
        if walk.offer is not None:
            notify_wait_offered(self._observer, walk.offer.value)
        return walk

    async def wait_offer(self, decision: StickyDecision, candidate: Candidate) -> WaitOffer | None:
        """What to offer a caller whose agent is on another call (routing_core.wait_offer); the
        estimate is read within the database budget, and left out when it cannot be."""
        knobs = decision.context.settings.values
        reading = asyncio.ensure_future(
            talk_times(self._pool, candidate.agent.id, datetime.now(UTC))
        )
        try:
            times = await asyncio.wait_for(asyncio.shield(reading), self._budget)
            minutes = estimated_minutes(times.elapsed_seconds, times.typical_seconds)
        except (TimeoutError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
            log.warning("wait_estimate_unavailable", call_id=decision.context.call.call_id,
                        error=type(error).__name__)  # fmt: skip
            self._abandon(reading)
            minutes = None
        return wait_offer(
            minutes,
            answer_seconds=knobs.wait_offer_answer_seconds,
            wait_seconds=knobs.wait_offer_seconds,
            callback=knobs.callback_expiry_minutes > 0 and callback_number(decision) is not None,
        )

    async def member_elsewhere(self, candidate: Candidate, queue: str) -> MemberElsewhere | None:
        """Where an agent who is no member of this node's `queue` is one: on another node of
        the line, as that node's router last published it. None on a line of one node, when
        they are a member nowhere, or when the database cannot say within the budget."""
        if self.node is None:
            return None
        interface = candidate.agent.member_interface
        reading = asyncio.ensure_future(members_elsewhere(self._pool, interface, queue, self.node))
        try:
            found = await asyncio.wait_for(asyncio.shield(reading), self._budget)
        except (TimeoutError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
            log.warning("presence_unavailable", agent=candidate.agent.name,
                        error=type(error).__name__)  # fmt: skip
            self._abandon(reading)
            return None
        return found[0] if found else None

    async def claim(self, decision: StickyDecision, candidate: Candidate) -> bool:
        """Take a further candidate before ringing them (the first is claimed by `decide`). Held
        for the whole detour and a ring, from the call's start, like the first."""
        call = decision.context.call
        knobs = decision.context.settings.values
        hold = claim_hold(knobs, knobs.detour_budget_seconds)
        return await claim_agent(self._pool, call.call_id, candidate.agent.id, call.at, hold)

    async def release(self, call_id: str, outcome: str, at: datetime) -> int:
        return await release_claims(self._pool, call_id, outcome, at)

    async def release_agent(
        self, call_id: str, candidate: Candidate, outcome: str, at: datetime
    ) -> bool:
        return await release_claim(self._pool, call_id, candidate.agent.id, outcome, at)

    async def _decide(
        self,
        call: IncomingCall,
        keys: Sequence[CallerKey],
        number: str | None,
        claim: bool,
        decided: DecidedHook | None,
    ) -> Decision:
        async with self._pool.acquire() as connection:
            facts, rows = await read_facts(
                connection,
                keys,
                number=number,
                call_id=call.call_id,
                queue=call.queue,
                did=call.did,
                now=call.at,
                mirror_source=self._ticket_mirror,
            )
            customer = facts.identity.customer
            settings = resolve_settings(
                rows,
                queue=call.queue,
                did=call.did,
                customer_class=customer.class_name if customer else None,
            )
            decision = decide(call, facts, settings, number)
            if not claim or not isinstance(decision, StickyDecision):
                return decision
            if decided is not None:
                decided(decision)
            if self._before_claim is not None:
                await self._before_claim(call)
            hold = claim_hold(settings.values, settings.values.busy_wait_seconds)
            return await self._claim_first(connection, decision, hold)

    async def _claim_first(
        self, connection: Connection, decision: StickyDecision, hold: timedelta
    ) -> Decision:
        """Claim the first candidate no other call holds; those held count as busy."""
        call = decision.context.call
        excluded = list(decision.excluded)
        for position, candidate in enumerate(decision.candidates):
            if await claim_agent(connection, call.call_id, candidate.agent.id, call.at, hold):
                return replace(
                    decision,
                    candidates=decision.candidates[position:],
                    excluded=tuple(excluded),
                )
            excluded.append(ExcludedCandidate(candidate, Exclusion.CLAIMED))
        return QueueDecision(decision.context, QueueReason.BUSY, tuple(excluded))

    def _abandon(self, deciding: asyncio.Future[Any]) -> None:
        """Cancel a read past its budget and let it clean up unattended."""
        deciding.cancel()
        self._background.add(deciding)

        def forget(done: asyncio.Future[Any]) -> None:
            self._background.discard(done)
            if not done.cancelled():
                done.exception()  # retrieved: an error after the budget is no news

        deciding.add_done_callback(forget)

    def _release_in_background(self, call: IncomingCall) -> None:
        """The budget may have run out after a claim was taken: free the agent when the database
        answers again, instead of holding them until the claim expires."""

        async def release() -> None:
            try:
                async with asyncio.timeout(CLAIM_MARGIN.total_seconds()):
                    await release_claims(self._pool, call.call_id, "db_timeout", call.at)
            except Exception as error:  # the claim then simply expires
                log.warning(
                    "claim_release_failed", call_id=call.call_id, error=type(error).__name__
                )

        task = asyncio.get_running_loop().create_task(release())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def _fallback(
        self,
        call: IncomingCall,
        keys: Sequence[CallerKey],
        number: str | None,
        reason: QueueReason,
    ) -> QueueDecision:
        identity = Identity(key=keys[0] if keys else None)
        context = DecisionContext(
            call=call, number=number, identity=identity, settings=DEFAULT_SETTINGS
        )
        return QueueDecision(context, reason)


def _reason(decision: Decision) -> str:
    if isinstance(decision, StickyDecision):
        return decision.target.reason.value
    if isinstance(decision, QueueDecision):
        return decision.reason.value
    return "blocked"


def _log_decision(decision: Decision, elapsed: float) -> None:
    """One line per decision with the call's ids; never the caller's number or name."""
    context = decision.context
    fields: dict[str, object] = {
        "call_id": context.call.call_id,
        "route": decision.route.value,
        "queue": context.call.queue,
        "key_kind": context.key.kind.value if context.key else None,
        "customer_id": context.identity.customer.id if context.identity.customer else None,
        "customers": len(context.identity.customers),
        "ticket": context.identity.ticket.external_id if context.identity.ticket else None,
        "latency_ms": round(elapsed * 1000, 3),
    }
    if isinstance(decision, StickyDecision):
        fields["target"] = decision.target.agent.name
        fields["because"] = decision.target.reason.value
        fields["candidates"] = [c.agent.name for c in decision.candidates]
    elif isinstance(decision, QueueDecision):
        fields["reason"] = decision.reason.value
    excluded = getattr(decision, "excluded", ())
    if excluded:
        fields["excluded"] = {e.candidate.agent.name: e.exclusion.value for e in excluded}
    log.info("routing_decision", **fields)
