"""The event loop the long-running services (`sticky-router run`, `sticky-router agi`) run on.

uvloop by default: asyncio's own interface over libuv, made by the authors of asyncpg. The
router's work per call is many small steps on one loop (an ARI frame, an AMI event, a database
answer, a journal commit's wake-up), and scheduling them costs less there: on this project's
post-dial bench the router used about a tenth less CPU per call with it (bench/README.md,
"The event loop"). Nothing in the code depends on which loop runs it; `STICKY_EVENT_LOOP=asyncio`
puts Python's own back, for an operator who suspects the loop or a platform uvloop lacks.

The one-shot commands (`migrate`, `decide`, `purge`, ...) keep `asyncio.run`: they gain nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, Literal, TypeVar

import uvloop

EventLoopKind = Literal["uvloop", "asyncio"]
T = TypeVar("T")


def loop_factory(kind: EventLoopKind) -> Callable[[], asyncio.AbstractEventLoop]:
    if kind == "uvloop":
        return uvloop.new_event_loop
    return asyncio.new_event_loop


def run_service(main: Coroutine[Any, Any, T], kind: EventLoopKind) -> T:
    """Run `main` to its end on a new loop of `kind`, as `asyncio.run` does (the loop's
    leftover tasks cancelled, its async generators and default executor shut down)."""
    with asyncio.Runner(loop_factory=loop_factory(kind)) as runner:
        return runner.run(main)


def running_loop_kind() -> EventLoopKind:
    """Which loop this code runs on, for the start-up log line."""
    return "uvloop" if isinstance(asyncio.get_running_loop(), uvloop.Loop) else "asyncio"
