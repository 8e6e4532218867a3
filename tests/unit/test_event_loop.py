"""The services' event loop: uvloop by default, Python's own on request, and either one run
to its end the way `asyncio.run` does it."""

from __future__ import annotations

import asyncio
import threading

import pytest
import uvloop

from sticky_router.process.event_loop import EventLoopKind, run_service, running_loop_kind


async def loop_seen() -> tuple[type[asyncio.AbstractEventLoop], EventLoopKind]:
    return type(asyncio.get_running_loop()), running_loop_kind()


def test_uvloop_serves_by_default_kind() -> None:
    loop_type, kind = run_service(loop_seen(), "uvloop")
    assert issubclass(loop_type, uvloop.Loop)
    assert kind == "uvloop"


def test_python_s_own_loop_on_request() -> None:
    loop_type, kind = run_service(loop_seen(), "asyncio")
    assert not issubclass(loop_type, uvloop.Loop)
    assert issubclass(loop_type, asyncio.BaseEventLoop)
    assert kind == "asyncio"


@pytest.mark.parametrize("kind", ["uvloop", "asyncio"])
def test_leftover_tasks_are_cancelled_and_the_executor_shut_down(kind: EventLoopKind) -> None:
    """What `serve` leaves behind when it returns (a background task, an executor thread, such
    as the journal's commits) is finished, not abandoned: a stopped router exits."""
    cancelled = threading.Event()
    executor_threads: list[threading.Thread] = []

    async def leftover() -> None:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    async def main() -> str:
        asyncio.get_running_loop().create_task(leftover())
        await asyncio.sleep(0)  # the task starts waiting
        await asyncio.to_thread(lambda: executor_threads.append(threading.current_thread()))
        return "served"

    assert run_service(main(), kind) == "served"
    assert cancelled.is_set()
    assert executor_threads
    assert not executor_threads[0].is_alive()


@pytest.mark.parametrize("kind", ["uvloop", "asyncio"])
def test_an_error_in_the_service_reaches_the_caller(kind: EventLoopKind) -> None:
    async def broken() -> None:
        raise RuntimeError("the database is gone")

    with pytest.raises(RuntimeError, match="the database is gone"):
        run_service(broken(), kind)
