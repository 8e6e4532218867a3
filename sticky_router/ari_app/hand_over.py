"""The hand-over to sticky-ring, made ready while the agent is checked.

Before the caller may continue to sticky-ring, their channel must be watched (or the Dial()
events would be missed) and carry the variables that name the agent to ring. Both are sent as
soon as the decision is known, for its first candidate, beside the agent check: usually that
agent is free, and the hand-over is then one request (the continue) instead of two turns. When
another candidate is chosen (or the same one on another node), its variables replace these at
the hand-over. When nobody is rung, the variables are replaced by the fallback's and the watch
is dropped in the background, after the caller has moved on.

Replaced, never merged: every hand-over is one STICKY_PACK, or (too long for one request) a
cleared STICKY_PACK and the variables one by one (routing_core.dialplan_variables.handed_over),
so nothing of an earlier hand-over reaches the dialplan.
"""

from __future__ import annotations

import asyncio
import contextlib

import structlog

from sticky_router.ari_app.channels import AriUnavailable, ChannelGone, Channels
from sticky_router.routing_core import Candidate, StickyDecision
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
        self._decision = decision
        self._pending = pending  # tasks the owner keeps alive (cleanup after the caller left)
        first = decision.candidates[0] if decision.candidates else None
        variables = handed_over(attempt_variables(decision, first)) if first else {}
        # Only a single pack is sent ahead: it is replaced whole by any later one.
        self._ahead_for = first if PACK in variables and len(variables) == 1 else None
        self._sent = asyncio.get_running_loop().create_task(
            self._send(variables if self._ahead_for else {})
        )

    async def _send(self, variables: dict[str, str]) -> None:
        work = [self._channels.watch(self._call_id)]
        if variables:
            work.append(self._channels.set_variables(self._call_id, variables))
        await asyncio.gather(*work)

    async def complete(self, chosen: Candidate, on_node: str | None) -> None:
        """Everything before the continue that rings `chosen` (through `on_node`'s trunk when
        given). Raises what sending did: ChannelGone (the caller left) or AriUnavailable."""
        await self._sent
        if chosen is self._ahead_for and on_node is None:
            return
        variables = attempt_variables(self._decision, chosen, on_node)
        await self._channels.set_variables(self._call_id, handed_over(variables))

    async def settled(self) -> None:
        """Wait until what was sent ahead is done, whatever came of it, so that variables set
        next (the fallback's) are not overtaken by ours: over HTTP, two requests in flight are
        done in any order. The request that follows reports its own failure."""
        with contextlib.suppress(Exception):
            await self._sent

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
