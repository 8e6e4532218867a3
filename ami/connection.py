"""The AMI side of learning: the connection (panoramisk 1.4) and the writes it feeds.

Recording    runs CallLearner's writes off the AMI reader, in order per call, best effort
AmiLearner   the AMI connection, reconnected with capped backoff, with a heartbeat
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from panoramisk import Manager  # type: ignore[import-untyped]

from ami.learner import MAX_CALLS, CallLearner, log
from ami.writes import CallEnded, LegRang, Recorder, Write
from routing_core.ringing import RingingListener, RingSource

RECORD_TIMEOUT = 2.0
# The router records a queued call after handing it to the queue, so the queue's first rings can
# beat the interaction row: while a call is not known yet, a write is retried this long.
RETRY_DELAYS = (0.25, 0.5, 1.0, 2.0)


@dataclass
class _Lane:
    """One call's writes, run one after the other by one task."""

    writes: collections.deque[Write] = field(default_factory=collections.deque)
    task: asyncio.Task[None] | None = None
    retrying: bool = True  # until a write found the call, or the retries ran out once
    ended: bool = False


class Recording:
    """Runs writes off the AMI reader, in order within a call (an answer after its ring), calls
    side by side. Recording is best effort: a database error or timeout drops that write."""

    def __init__(
        self,
        recorder: Recorder,
        *,
        retry_delays: tuple[float, ...] = RETRY_DELAYS,
        timeout: float = RECORD_TIMEOUT,
        max_calls: int = MAX_CALLS,
    ) -> None:
        self._recorder = recorder
        self._retry_delays = retry_delays
        self._timeout = timeout
        self._max_calls = max_calls
        self._lanes: dict[str, _Lane] = {}

    def submit(self, write: Write) -> None:
        lane = self._lanes.get(write.call_id)
        if lane is None:
            if len(self._lanes) >= self._max_calls:  # forget the oldest idle call
                idle = next((k for k, v in self._lanes.items() if v.task is None), None)
                self._lanes.pop(idle or "", None)
            lane = self._lanes[write.call_id] = _Lane()
        lane.writes.append(write)
        if lane.task is None:
            lane.task = asyncio.get_running_loop().create_task(self._run(write.call_id, lane))

    async def drain(self, seconds: float) -> bool:
        """Wait (at most `seconds`) for the writes submitted so far; whether they all ran."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                while tasks := {lane.task for lane in self._lanes.values() if lane.task}:
                    await asyncio.wait(tasks)
                return True
        return False

    async def _run(self, call_id: str, lane: _Lane) -> None:
        try:
            while lane.writes:
                write = lane.writes.popleft()
                await self._apply(lane, write)
                lane.ended = lane.ended or isinstance(write, CallEnded)
        finally:
            lane.task = None
            if lane.ended and not lane.writes and self._lanes.get(call_id) is lane:
                del self._lanes[call_id]

    async def _apply(self, lane: _Lane, write: Write) -> None:
        delays = iter(self._retry_delays if lane.retrying else ())
        while True:
            try:
                async with asyncio.timeout(self._timeout):
                    known = await write.apply(self._recorder)
            except Exception as error:
                log.warning(
                    "ami_record_failed", call_id=write.call_id, write=type(write).__name__,
                    error=type(error).__name__,
                )  # fmt: skip
                return
            delay = next(delays, None)
            if known or delay is None:
                lane.retrying = False
                if not known:  # not a call of ours, or an agent we do not know
                    log.debug(
                        "ami_record_unknown", call_id=write.call_id, write=type(write).__name__
                    )
                return
            await asyncio.sleep(delay)


# --- the AMI connection -----------------------------------------------------------------------


class AmiRefused(ConnectionError):
    """Asterisk answered the Login with an error (wrong user or secret, not permitted)."""


class _Manager(Manager):  # type: ignore[misc]  # panoramisk has no type hints
    """panoramisk's Manager without its own reconnect. Left alone it calls connect() again every
    `reconnect_timeout` seconds, forever, with a log line per attempt and no handle on the timer
    (close() does not stop it). One Manager serves one connection here; AmiLearner.run
    reconnects with capped backoff."""

    def __init__(self, lost: asyncio.Event, **config: Any) -> None:
        super().__init__(**config)
        self._lost = lost

    def connection_made(self, future: asyncio.Future[Any]) -> None:
        # A failed connect reaches whoever awaits connect(); nothing is scheduled again.
        if not future.cancelled() and future.exception() is None:
            super().connection_made(future)

    def connection_lost(self, exc: object) -> None:
        self._lost.set()

    def ping(self) -> None:
        """Never sent: panoramisk's pings do not wait for an answer; AmiLearner's heartbeat does."""


class _Ami:
    """The only place that touches panoramisk (untyped): one connection, typed in and out.

    panoramisk decodes each TCP read on its own and drops undecodable bytes, so a multibyte
    character split across two reads is lost. We read only ASCII fields (ids, channel names,
    statuses), never caller names, so that is harmless here.
    """

    def __init__(self, host: str, port: int, on_event: Callable[[dict[str, str]], None]) -> None:
        self.lost = asyncio.Event()
        self._manager = _Manager(
            self.lost, host=host, port=port, loop=asyncio.get_running_loop(), encoding="utf8"
        )
        self._manager.register_event("*", lambda _manager, message: on_event(_fields(message)))

    async def connect(self) -> None:
        await self._manager.connect()

    async def action(self, fields: dict[str, str]) -> dict[str, str]:
        return _fields(await self._manager.send_action(dict(fields)))

    def close(self) -> None:
        self._manager.close()


def _fields(message: Any) -> dict[str, str]:
    """A panoramisk Message as a plain dict (repeated headers, which come as lists, dropped)."""
    return {str(key): value for key, value in message.items() if isinstance(value, str)}


@dataclass(frozen=True)
class AmiSettings:
    host: str
    port: int
    user: str
    password: str = field(repr=False)
    # AMI event classes: DialBegin/DialEnd, transfers and hangups are `call`; AgentConnect is
    # `agent`. Nothing else is sent to us (no dialplan or variable traffic).
    events: str = "call,agent"


class AmiLearner:
    """Connects to AMI, feeds CallLearner, records through Recording; reconnects forever.

    In the router process: `learner = AmiLearner(AmiSettings(...), CallRecorder(pool))`, then
    `learner.start()` inside the running loop and `await learner.stop()` on shutdown.
    """

    def __init__(
        self,
        settings: AmiSettings,
        recorder: Recorder,
        *,
        backoff: tuple[float, float] = (0.5, 30.0),  # first delay, cap
        heartbeat: float = 15.0,
        action_timeout: float = 5.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        ringing: RingingListener | None = None,
    ) -> None:
        self.settings = settings
        self._ringing = ringing
        self.learner = CallLearner()
        self.recording = Recording(recorder)
        self.connected = asyncio.Event()
        self._backoff = backoff
        self._heartbeat = heartbeat
        self._timeout = action_timeout
        self._clock = clock
        self._task: asyncio.Task[None] | None = None
        self._said_down = False

    def start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self.run())

    async def stop(self, drain_seconds: float = 5.0) -> None:
        """Close the connection and let the writes already heard finish."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.recording.drain(drain_seconds)

    async def wait_connected(self, seconds: float) -> None:
        async with asyncio.timeout(seconds):
            await self.connected.wait()

    async def run(self) -> None:
        """Until cancelled. A lost or refused connection is logged once, then retried quietly
        with doubling delays up to the cap; a working session starts the delays afresh."""
        attempt = 0
        try:
            while True:
                try:
                    await self._session()
                except Exception as error:  # the learner must outlive anything a session does
                    was_up = self.connected.is_set()
                    self.connected.clear()
                    attempt = 0 if was_up else attempt
                    self._log_down(error, attempt, was_up)
                await asyncio.sleep(min(self._backoff[1], self._backoff[0] * 2**attempt))
                attempt += 1
        finally:
            self.connected.clear()

    async def _session(self) -> None:
        settings = self.settings
        ami = _Ami(settings.host, settings.port, self._on_event)
        try:
            async with asyncio.timeout(self._timeout):
                await ami.connect()
                reply = await ami.action(
                    {"Action": "Login", "Username": settings.user, "Secret": settings.password,
                     "Events": settings.events}
                )  # fmt: skip
            if reply.get("Response") != "Success":
                raise AmiRefused(reply.get("Message") or "login refused")
            self.connected.set()
            log.info("ami_connected", host=settings.host, port=settings.port)
            self._said_down = False
            while True:  # heartbeat: a half-open connection shows up as a Ping left unanswered
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self._heartbeat):
                        await ami.lost.wait()
                        raise ConnectionResetError("AMI connection closed")
                async with asyncio.timeout(self._timeout):
                    await ami.action({"Action": "Ping"})
        finally:
            ami.close()

    def _on_event(self, event: dict[str, str]) -> None:
        try:
            for write in self.learner.handle(event, self._clock()):
                self.recording.submit(write)
                if self._ringing is not None and isinstance(write, LegRang):
                    self._report_ringing(write)
        except Exception:  # one odd event must not cost the connection
            log.exception("ami_event_failed", event=event.get("Event"))

    def _report_ringing(self, write: LegRang) -> None:
        """An agent's phone rings: the screen pop. Never at the cost of the recording."""
        assert self._ringing is not None
        source = RingSource.TRANSFER if write.transferred_from else RingSource.QUEUE
        try:
            self._ringing.agent_ringing(write.call_id, write.agent, source)
        except Exception:
            log.exception("ringing_report_failed", call_id=write.call_id)

    def _log_down(self, error: Exception, attempt: int, was_up: bool) -> None:
        reason = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
        if self._said_down:
            log.debug("ami_retry_failed", attempt=attempt, reason=reason)
            return
        self._said_down = True
        event = "ami_connection_lost" if was_up else "ami_unavailable"
        log.warning(event, host=self.settings.host, port=self.settings.port, reason=reason)
