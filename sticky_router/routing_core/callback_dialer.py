"""Callbacks owned by an agent, dialled when that agent is free (issue 16: the wait offer's 2).

Every few seconds: callbacks past their time expire (to the admin pages' list); for each agent
with a callback due, the oldest is dialled if the agent is free *in that callback's queue* as
Asterisk reports it (a member, not paused, phone not in use: the AMI member board), past their
wrap-up (`wrap_up_seconds` after their last answered call, as for a sticky call) and no
sticky call holds them (the same claim a sticky callback takes, so the two never ring one agent
at once). The row is taken atomically (two routers never dial one callback), the agent's phone
rings first (`CallbackPlacer`, the ARI adapter), and when they answer the dialplan dials the
caller. How it ended comes back through `finished`: connected closes it; a miss puts it back
for a later try, until the attempts run out.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Protocol

import asyncpg
import structlog

from sticky_router.routing_core.attempt import FREE_STATES, is_member, wrapping_up
from sticky_router.routing_core.live import MemberFacts
from sticky_router.routing_core.settings import resolve_settings
from sticky_router.routing_core.store.callbacks import DueCallback, due, expire, finish, take
from sticky_router.routing_core.store.claims import claim_agent, release_claims
from sticky_router.routing_core.store.settings_store import read_settings_rows

log = structlog.get_logger("sticky_router.callbacks")

LOOK_EVERY = 2.0
OUTCOMES = ("connected", "agent_no_answer", "caller_no_answer", "caller_busy", "failed",
            "not_placed")  # fmt: skip
# The claim holds the agent for the ring and the call to the caller; released when it ends.
CLAIM_HOLD = timedelta(minutes=30)


class MemberStates(Protocol):
    """Queue memberships as Asterisk reports them (ami.member_board.MemberBoard)."""

    known: bool

    def members(self) -> list[MemberFacts]: ...


class CallbackPlacer(Protocol):
    async def ring_agent(self, callback: DueCallback, ring_seconds: int) -> bool:
        """Ring the agent for this callback; False when Asterisk would not place the call."""


def claim_id(callback_id: int) -> str:
    """The claim's call id: a callback is not a call of Asterisk's until it is dialled."""
    return f"callback-{callback_id}"


def free_in_queue(members: Sequence[MemberFacts], callback: DueCallback) -> bool:
    """A member of the callback's queue, phone not in use, and not paused unless the agent
    asked for this callback now."""
    return any(
        m.queue == callback.queue
        and is_member(m.interface, callback.member_interface)
        and (not m.paused or callback.asked_now)
        and m.device_state in FREE_STATES
        for m in members
    )


def in_wrap_up(callback: DueCallback, now: datetime, wrap_up_seconds: int) -> bool:
    """Still in after-call work (`wrap_up_seconds` after their last answered call), as a sticky
    call judges it (routing_core.attempt.wrapping_up), unless they asked for this callback now."""
    return not callback.asked_now and wrapping_up(callback.last_talk_ended_at, now, wrap_up_seconds)


def utc_now() -> datetime:
    return datetime.now(UTC)


class CallbackDialer:
    def __init__(
        self,
        pool: asyncpg.Pool,
        members: MemberStates,
        placer: CallbackPlacer,
        *,
        every: float = LOOK_EVERY,
        clock: Callable[[], datetime] = utc_now,
        counted: Callable[[str], None] | None = None,
    ) -> None:
        self._pool = pool
        self._counted = counted  # each attempt's outcome (the metric)
        self._members = members
        self._placer = placer
        self._every = every
        self._clock = clock

    async def run(self) -> None:
        """Until cancelled; a database or Asterisk that does not answer only skips a look (told
        once, until a look succeeds again)."""
        failing = False
        while True:
            try:
                await self.look()
                failing = False
            except Exception as error:
                told = log.debug if failing else log.warning
                told("callback_look_failed", error=f"{type(error).__name__}: {error}")
                failing = True
            await asyncio.sleep(self._every)

    async def look(self) -> None:
        now = self._clock()
        expired = await expire(self._pool, now)
        if expired:
            log.warning("callbacks_expired", callbacks=expired)
        if not self._members.known:
            return  # whether an agent is free cannot be told: nobody is rung
        members = self._members.members()
        callbacks = await due(self._pool, now)
        rows = await read_settings_rows(self._pool) if callbacks else []
        for callback in callbacks:
            knobs = resolve_settings(rows, queue=callback.queue, did=None, customer_class=None)
            if free_in_queue(members, callback) and not in_wrap_up(
                callback, now, knobs.values.wrap_up_seconds
            ):
                await self._dial(callback, now, knobs.values.ring_timeout_seconds)

    async def _dial(self, callback: DueCallback, now: datetime, ring_seconds: int) -> None:
        claim = claim_id(callback.id)
        if not await claim_agent(self._pool, claim, callback.agent_id, now, CLAIM_HOLD):
            return  # a sticky call is ringing them: next look
        if not await take(self._pool, callback.id, now):
            await release_claims(self._pool, claim, "taken_elsewhere", now)
            return
        log.info("callback_dialling", callback=callback.id, agent=callback.agent)
        if not await self._placer.ring_agent(callback, ring_seconds):
            await self.finished(callback.id, "not_placed")

    async def finished(self, callback_id: int, outcome: str) -> None:
        """How an attempt ended (one of OUTCOMES): the row's next state, the agent let go."""
        now = self._clock()
        status = await finish(self._pool, callback_id, outcome, now)
        await release_claims(self._pool, claim_id(callback_id), outcome, now)
        log.info("callback_attempt_ended", callback=callback_id, outcome=outcome, status=status)
        if self._counted is not None:
            self._counted(outcome)
