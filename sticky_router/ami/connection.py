"""The AMI side of learning: the connection (panoramisk 1.4), feeding CallLearner, whose events
go to the journal (routing_core.store.journal) in the order they were heard.

AmiLearner   the AMI connection, reconnected with capped backoff, with a heartbeat
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from panoramisk import Manager  # type: ignore[import-untyped]

from sticky_router.ami.caller_board import CallerBoard
from sticky_router.ami.event_names import ANSWER_EVENTS, WANTED_EVENTS
from sticky_router.ami.learner import CallLearner, log
from sticky_router.ami.member_board import MemberBoard
from sticky_router.routing_core.events import EventSink

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

    def __init__(
        self,
        host: str,
        port: int,
        on_event: Callable[[dict[str, str]], None],
        wanted: Callable[[str], bool],
    ) -> None:
        self.lost = asyncio.Event()
        self._manager = _Manager(
            self.lost, host=host, port=port, loop=asyncio.get_running_loop(), encoding="utf8"
        )

        def dispatch(_manager: object, message: Any) -> None:
            # What the router does not read is dropped before it is copied (ami/event_names.py).
            if wanted(message.get("Event", "")):
                on_event(_fields(message))

        self._manager.register_event("*", dispatch)

    async def connect(self) -> None:
        await self._manager.connect()

    async def action(self, fields: dict[str, str]) -> dict[str, str]:
        return _fields(await self._manager.send_action(dict(fields)))

    async def action_list(self, fields: dict[str, str]) -> list[dict[str, str]]:
        """An action answered with a list of events (QueueStatus): the response, then each."""
        answer = await self._manager.send_action(dict(fields))
        return [_fields(message) for message in (answer if isinstance(answer, list) else [answer])]

    def close(self) -> None:
        self._manager.close()


def _fields(message: Any) -> dict[str, str]:
    """A panoramisk Message as a plain dict (repeated headers, which come as lists, dropped)."""
    return {str(key): value for key, value in message.items() if isinstance(value, str)}


# Enough to tell a PBX that filters nothing from a stray event; told once per connection.
UNWANTED_TO_REPORT = 200


class UnwantedEvents:
    """Counts the events Asterisk sent that the router does not read (a PBX without the
    event filter lines of ami/event_names.py); warns once per connection when they add up."""

    def __init__(self) -> None:
        self.count = 0
        self.names: dict[str, int] = {}
        self._told = False

    def wanted(self, name: str) -> bool:
        if name in WANTED_EVENTS:
            return True
        if name in ANSWER_EVENTS:
            return False
        self.count += 1
        if name in self.names or len(self.names) < 100:  # bounded against made-up names
            self.names[name] = self.names.get(name, 0) + 1
        if self.count >= UNWANTED_TO_REPORT and not self._told:
            self._told = True
            log.warning(
                "ami_events_unfiltered",
                unwanted=self.count,
                commonest=sorted(self.names, key=self.names.__getitem__, reverse=True)[:5],
                why="Asterisk sends the router AMI events it does not read, and both spend CPU "
                "on them; give the router's AMI user the eventfilter lines of "
                "docs/configuration.md",
            )
        return False

    def reconnected(self) -> None:
        self.count = 0
        self.names.clear()
        self._told = False


@dataclass(frozen=True)
class AmiSettings:
    host: str
    port: int
    user: str
    password: str = field(repr=False)
    # AMI event classes: DialBegin/DialEnd, transfers and hangups are `call`; AgentConnect is
    # `agent`; the dialplan's UserEvent (a call from another node) is `user`. Nothing else is
    # sent to us (no dialplan or variable traffic). A user without `user` in its `read` logs in
    # all the same and gets the rest.
    events: str = "call,agent,user"


class AmiLearner:
    """Connects to AMI, feeds CallLearner, reports its events to the journal; reconnects
    forever.

    In the router process: `learner = AmiLearner(AmiSettings(...), journal)`, then
    `learner.start()` inside the running loop and `await learner.stop()` on shutdown.
    """

    def __init__(
        self,
        settings: AmiSettings,
        journal: EventSink,
        *,
        backoff: tuple[float, float] = (0.5, 30.0),  # first delay, cap
        heartbeat: float = 15.0,
        action_timeout: float = 5.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.settings = settings
        self.learner = CallLearner()
        self.board = MemberBoard()  # queue memberships now, for the supervisors' live view
        self.callers = CallerBoard()  # callers waiting in the queues, for the outage watch
        self.unwanted = UnwantedEvents()  # what Asterisk sends and the router does not read
        self._journal = journal
        self._appending: set[asyncio.Task[bool]] = set()
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
        """Close the connection; what was already heard is put in the journal first."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.flush(drain_seconds)

    async def flush(self, seconds: float = 5.0) -> None:
        """Until what was heard so far is in the journal."""
        if self._appending:
            await asyncio.wait(set(self._appending), timeout=seconds)

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
        self.unwanted.reconnected()
        ami = _Ami(settings.host, settings.port, self._on_event, self.unwanted.wanted)
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
            await self._take_snapshot(ami)
            while True:  # heartbeat: a half-open connection shows up as a Ping left unanswered
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self._heartbeat):
                        await ami.lost.wait()
                        raise ConnectionResetError("AMI connection closed")
                async with asyncio.timeout(self._timeout):
                    await ami.action({"Action": "Ping"})
        finally:
            self.board.forget()
            self.callers.forget()
            ami.close()

    async def _take_snapshot(self, ami: _Ami) -> None:
        """The queue memberships Asterisk holds now; without them the live view says it does
        not know, and learning goes on all the same."""
        try:
            async with asyncio.timeout(self._timeout):
                snapshot = await ami.action_list({"Action": "QueueStatus"})
            self.board.replace(snapshot)
            self.callers.replace(snapshot, time.monotonic())
        except Exception as error:
            if not ami.lost.is_set():  # a lost connection is told once, by the session
                log.warning("ami_queue_status_failed", error=f"{type(error).__name__}: {error}")

    def _on_event(self, event: dict[str, str]) -> None:
        with contextlib.suppress(Exception):  # the live view never costs learning
            self.board.handle(event)
            self.callers.handle(event, time.monotonic())
        try:
            learned = self.learner.handle(event, self._clock())
            if not learned:
                return
            # Aside, so the AMI reader never waits on the disk; appends queue in call order.
            appending = asyncio.get_running_loop().create_task(self._journal.append(*learned))
            self._appending.add(appending)
            appending.add_done_callback(self._appending.discard)
        except Exception:  # one odd event must not cost the connection
            log.exception("ami_event_failed", event=event.get("Event"))

    def _log_down(self, error: Exception, attempt: int, was_up: bool) -> None:
        reason = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
        if self._said_down:
            log.debug("ami_retry_failed", attempt=attempt, reason=reason)
            return
        self._said_down = True
        event = "ami_connection_lost" if was_up else "ami_unavailable"
        log.warning(event, host=self.settings.host, port=self.settings.port, reason=reason)
