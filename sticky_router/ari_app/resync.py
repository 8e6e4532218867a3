"""Nobody left in the application undriven.

After a (re)connect, any caller in our Stasis() that this process is not deciding was left by an
earlier router (it died in the middle of a decision) or by a lost websocket: it goes to the
queue at once. The same sweep also runs periodically, for a caller whose StasisStart was lost or
whose hand-over failed twice; there a channel must have been seen undriven by two sweeps in a
row, so a call whose StasisStart is merely still on its way is never taken for stranded.

With several routers for one Asterisk (StasisBroadcast), a router that died in the middle of a
decision leaves its callers in its own application: `orphaned` finds them (the routers that
stopped beating, process/node_presence.py), and the same sweep sends them to the queue.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import structlog

from sticky_router.ari_app.channels import AriUnavailable, ChannelGone, Channels
from sticky_router.routing_core.dialplan_variables import handed_over

log = structlog.get_logger("sticky_router.ari")

STRANDED_REASON = "router_restart"


class Sweeper:
    def __init__(
        self,
        channels: Channels,
        queue_context: str,
        extension: str,
        is_driven: Callable[[str], bool],
        orphaned: Callable[[], Awaitable[list[dict[str, Any]]]] | None = None,
    ) -> None:
        self._channels = channels
        self._orphaned = orphaned
        self._queue_context = queue_context
        self._extension = extension
        self._is_driven = is_driven
        self._suspects: set[str] = set()
        # The dead routers' callers could not be searched for at the last sweep: said once per
        # outage, not every 5 s of it, and its end said too.
        self._orphan_search_failing = False

    async def sweep(self, *, grace: bool = False) -> list[str]:
        """Send undriven callers to the queue; the ids sent. With `grace`, only those already
        undriven at the previous sweep."""
        try:
            present = await self._channels.in_application()
        except (AriUnavailable, ChannelGone) as error:
            # ChannelGone here is a 404 for /channels itself: an Asterisk still starting, whose
            # HTTP server answers before res_ari is loaded. Nobody to sweep until it is.
            log.warning("resync_failed", error=f"{type(error).__name__}: {error}")
            return []
        if self._orphaned is not None:
            try:
                present = [*present, *await self._orphaned()]
            except Exception as error:  # the database or ARI: our own callers still go
                if not self._orphan_search_failing:
                    log.warning("orphan_search_failed", error=f"{type(error).__name__}: {error}")
                self._orphan_search_failing = True
            else:
                if self._orphan_search_failing:
                    log.info("orphan_search_back")
                self._orphan_search_failing = False
        undriven = {str(c["id"]) for c in present if not self._is_driven(str(c["id"]))}
        stranded = undriven & self._suspects if grace else undriven
        self._suspects = undriven - stranded
        for channel_id in sorted(stranded):
            log.info("resync_orphan_to_queue", call_id=channel_id)
            try:
                # A pack, so that one left by an earlier attempt is replaced, not unpacked.
                await self._channels.set_variables(
                    channel_id, handed_over({"STICKY_REASON": STRANDED_REASON})
                )
                await self._channels.continue_in_dialplan(
                    channel_id, self._queue_context, self._extension
                )
            except (ChannelGone, AriUnavailable) as error:
                log.info("resync_move_failed", call_id=channel_id, error=type(error).__name__)
        return sorted(stranded)

    async def run(self, every: float) -> None:
        """Sweep every `every` seconds for as long as the router runs: the safety net must
        outlive any one failed sweep (an Asterisk restart, a bug), so each is caught and logged."""
        while True:
            await asyncio.sleep(every)
            try:
                await self.sweep(grace=True)
            except Exception:
                log.exception("resync_sweep_failed")
