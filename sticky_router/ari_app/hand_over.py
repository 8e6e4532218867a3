"""What the attempt sends Asterisk for a sticky decision's first candidate, as soon as the
decision is made and while its claim is written (RoutingService.decide's `decided`).

Ringing an agent takes the agent check (membership, pause and state in one read), then the
caller's channel watched (or the Dial() events would be missed) and the variables that name the
agent set, then the continue to sticky-ring. The first three do not depend on each other nor on
the claim, and the first candidate is usually the one rung: they are sent at once, so what is
left after the claim is the continue. When another candidate is chosen (the claim moved on, or
the walk did), or the same one on another node, its own read and variables replace these. When
nobody is rung, the variables are replaced by the fallback's and the watch is dropped in the
background, after the caller has moved on.

Replaced, never merged: every hand-over is one STICKY_PACK, or (too long for one request) a
cleared STICKY_PACK and the variables one by one (routing_core.dialplan_variables.handed_over),
so nothing of an earlier hand-over reaches the dialplan.
"""

from __future__ import annotations

import asyncio
import contextlib

import structlog

from sticky_router.ari_app.availability import facts_expression
from sticky_router.ari_app.channels import AriUnavailable, ChannelGone, Channels
from sticky_router.routing_core import Candidate, StickyDecision
from sticky_router.routing_core.candidates import queue_to_check
from sticky_router.routing_core.dialplan_variables import PACK, attempt_variables, handed_over

log = structlog.get_logger("sticky_router.ari")


class PreparedHandOver:
    def __init__(
        self,
        channels: Channels,
        call_id: str,
        decision: StickyDecision,
        pending: set[asyncio.Task[None]],
    ) -> None:
        self._channels = channels
        self._call_id = call_id
        self._pending = pending  # tasks the owner keeps alive (cleanup after the caller left)
        loop = asyncio.get_running_loop()
        first = decision.candidates[0] if decision.candidates else None
        self._first = first
        queue = queue_to_check(decision, first) if first else None
        # The agent check's read, for the first candidate's queue; None when a value could not
        # go into a dialplan function (the walk then finds the agent unreachable).
        self._check_queue = queue
        self._check: asyncio.Task[str] | None = None
        self._check_taken = False
        if first is not None and queue is not None:
            read = channels.read(call_id, facts_expression(queue, first.agent))
            self._check = loop.create_task(read)
            # Unread when the claim moved on to another candidate: its failure is no news.
            self._check.add_done_callback(_retrieved)
        variables = handed_over(attempt_variables(decision, first)) if first else {}
        # Only a single pack is sent ahead: it is replaced whole by any later one.
        self._ahead_for = first if PACK in variables and len(variables) == 1 else None
        self._sent = loop.create_task(self._send(variables if self._ahead_for else {}))

    async def _send(self, variables: dict[str, str]) -> None:
        work = [self._channels.watch(self._call_id)]
        if variables:
            work.append(self._channels.set_variables(self._call_id, variables))
        await asyncio.gather(*work)

    def check_read(self, candidate: Candidate, queue: str) -> asyncio.Task[str] | None:
        """The agent check's read sent ahead, once, if it was for this candidate and queue."""
        if self._check_taken or candidate is not self._first or queue != self._check_queue:
            return None
        self._check_taken = True
        return self._check

    async def complete(
        self, decision: StickyDecision, chosen: Candidate, on_node: str | None
    ) -> None:
        """Everything before the continue that rings `chosen` of `decision` (the claimed one),
        through `on_node`'s trunk when given. Raises what sending did: ChannelGone (the caller
        left) or AriUnavailable."""
        await self._sent
        if chosen is self._ahead_for and on_node is None:
            return
        variables = attempt_variables(decision, chosen, on_node)
        await self._channels.set_variables(self._call_id, handed_over(variables))

    async def settled(self) -> None:
        """Wait until what was sent ahead is done, whatever came of it, so that variables set
        next (the fallback's) are not overtaken by ours: over HTTP, two requests in flight are
        done in any order. The request that follows reports its own failure."""
        for work in (self._sent, self._check):
            if work is not None:
                with contextlib.suppress(Exception):
                    await work

    def drop(self) -> None:
        """Nobody is rung: once the caller has moved on, stop watching their channel. In the
        background, never in the caller's way; a failure only costs events we ignore."""

        async def unwatch() -> None:
            await self.settled()
            try:
                await self._channels.unsubscribe(f"channel:{self._call_id}")
            except (AriUnavailable, ChannelGone):
                pass  # gone with the caller's channel, or left to Asterisk: events we ignore
            except Exception:
                log.exception("unwatch_failed", call_id=self._call_id)

        task = asyncio.get_running_loop().create_task(unwatch())
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)


def _retrieved(task: asyncio.Task[str]) -> None:
    if not task.cancelled():
        task.exception()
