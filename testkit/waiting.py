"""Waiting for a condition the real components reach in their own time, with a deadline."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable


async def eventually(
    check: Callable[[], Awaitable[bool]], seconds: float, *, poll: float = 0.1
) -> None:
    """Until `check()` is true; an AssertionError once `seconds` have passed without it."""
    deadline = time.monotonic() + seconds
    while not await check():
        assert time.monotonic() < deadline, f"not within {seconds} s"
        await asyncio.sleep(poll)
