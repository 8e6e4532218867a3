"""Database work beside a call that may be given up: letting an agent's claim go. Bounded and
never in the caller's way; a claim not let go only lasts its hold. (What the router learns is
never given up: it goes to the journal, routing_core/store/journal.py.)"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable

import structlog

log = structlog.get_logger("sticky_router.ari")

TIMEOUT = 2.0


async def best_effort(work: Awaitable[object]) -> None:
    """A database that stops answering costs a log line, never a call."""
    try:
        async with asyncio.timeout(TIMEOUT):
            await work
    except Exception as error:
        log.warning("claim_release_failed", error=type(error).__name__)
