"""Recording beside a call: best effort, bounded, never in the caller's way."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable

import structlog

log = structlog.get_logger("sticky_router.ari")

RECORD_TIMEOUT = 2.0


async def record(write: Awaitable[object]) -> None:
    """A database that stops answering costs a log line, never a call."""
    try:
        async with asyncio.timeout(RECORD_TIMEOUT):
            await write
    except Exception as error:
        log.warning("record_failed", error=type(error).__name__)
