"""The three FastAGI scripts, thin adapters around the routing core (no decision logic here).

  lookup    caller's channel, before ringing: the decision as channel variables
  result    caller's channel, after Dial() to the sticky target: how the attempt went
  answered  agent's channel, when Queue() (or Dial) connects it: who took the call

The caller never waits for a database write: records are written aside, in order per call,
each bounded by a timeout, and a failed write only costs a log line. Variables are set
inheritable (`__NAME`, as the ARI app does) so that the agent channel Queue() connects carries
them too; STICKY_ROUTE is set last, so a conversation cut half-way leaves no route at all and
the dialplan's "empty means queue" rule applies.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import structlog

from agi.protocol import AgiHangup, AgiRequest, AgiSession
from agi.server import AgiServer, Handler
from ari_app.app import DIAL_MISS_REASONS  # DIALSTATUS -> miss reason: the ARI app's table
from ari_app.channel_vars import fallback_variables, queue_reason
from routing_core import (
    BlockedDecision,
    CallRecorder,
    Decision,
    IncomingCall,
    RoutingService,
    StickyDecision,
)
from routing_core.model import BlockDestinationKind

log = structlog.get_logger("sticky_router.agi")

RECORD_TIMEOUT = 2.0
# The core keeps its own database budget (-> db_timeout, the queue); this outer bound only
# catches a core stuck on something else (-> router_error, the queue).

DECIDE_TIMEOUT = 5.0
ROUTER_ERROR = {"STICKY_ROUTE": "queue", "STICKY_REASON": "router_error"}


def now() -> datetime:
    return datetime.now(UTC)


def _present(value: str) -> str | None:
    """Asterisk writes `unknown` for an absent caller ID or DNID."""
    value = value.strip()
    return None if not value or value.lower() == "unknown" else value


def incoming_call(request: AgiRequest, at: datetime) -> IncomingCall:
    """AGI(agi://router/lookup,queue,did,ivr account,ivr ticket): the Stasis() arguments."""
    return IncomingCall(
        call_id=request.get("uniqueid"),
        caller_id=_present(request.get("callerid")),
        at=at,
        queue=_present(request.arg(1)) or "support",
        did=_present(request.arg(2)) or _present(request.get("dnid")),
        ivr_account=_present(request.arg(3)),
        ivr_ticket=_present(request.arg(4)),
    )


def decision_variables(decision: Decision) -> dict[str, str]:
    """What the dialplan needs to ring the target itself, plus the queue's context variables."""
    knobs = decision.context.settings.values
    variables = fallback_variables(decision, queue_reason(decision))
    sticky = isinstance(decision, StickyDecision)
    target = decision.target.agent if isinstance(decision, StickyDecision) else None
    variables.update(
        {
            # The dialplan Dial()s this; fallback_variables' STICKY_TARGET is the agent's name.
            "STICKY_TARGET": target.endpoint if target else "",
            "STICKY_TARGET_AGENT": target.name if target else "",
            "STICKY_RING_TIMEOUT": str(knobs.ring_timeout_seconds),
            # Never promise what may not happen: the prompt only when an agent is to be rung.
            "STICKY_ANNOUNCE": "1" if sticky and knobs.announce else "0",
            "STICKY_ANNOUNCE_SOUND": knobs.announce_sound,
        }
    )
    if (
        isinstance(decision, BlockedDecision)
        and decision.block.destination_kind is BlockDestinationKind.QUEUE
    ):
        variables["QUEUE_NAME"] = decision.block.destination
    return variables


def _seconds(value: str) -> float:
    try:
        return max(0.0, float(value))
    except ValueError:
        return 0.0


def agent_endpoint(channel: str) -> str:
    """`PJSIP/agent2-0000000a` -> `PJSIP/agent2`; Local channels keep their name."""
    head, dash, tail = channel.rpartition("-")
    return head if dash and head and all(c in "0123456789abcdef" for c in tail) else channel


async def set_variables(session: AgiSession, variables: dict[str, str]) -> None:
    route = variables.get("STICKY_ROUTE")
    for name, value in variables.items():
        if name != "STICKY_ROUTE":
            await session.set_variable(f"__{name}", value)
    if route is not None:
        await session.set_variable("__STICKY_ROUTE", route)


class AgiScripts:
    def __init__(
        self,
        routing: RoutingService,
        recorder: CallRecorder,
        *,
        record_timeout: float = RECORD_TIMEOUT,
        decide_timeout: float = DECIDE_TIMEOUT,
        clock: Callable[[], datetime] = now,
    ) -> None:
        self._routing = routing
        self._recorder = recorder
        self._record_timeout = record_timeout
        self._decide_timeout = decide_timeout
        self._clock = clock
        self._pending: dict[str, asyncio.Task[None]] = {}  # the newest write per call id
        self._tasks: set[asyncio.Task[None]] = set()

    def handlers(self) -> dict[str, Handler]:
        return {"lookup": self.lookup, "result": self.result, "answered": self.answered}

    # -- scripts ------------------------------------------------------------------------------

    async def lookup(self, session: AgiSession) -> None:
        request = session.request
        try:
            call = incoming_call(request, self._clock())
            async with asyncio.timeout(self._decide_timeout):
                decision = await self._routing.decide(call)
            variables = decision_variables(decision)
        except Exception:
            # The safety net: whatever broke, the dialplan carries on to the queue.
            log.exception("agi_lookup_failed", call_id=request.get("uniqueid"))
            await set_variables(session, dict(ROUTER_ERROR))
            return
        self._record_aside(call.call_id, lambda: self._record_start(decision))
        await set_variables(session, variables)

    async def result(self, session: AgiSession) -> None:
        """AGI(agi://router/result,${DIALSTATUS},<agent>[,${DIALEDTIME},${ANSWEREDTIME}]).

        Dial() returns after the conversation when answered, so the times are worked back from
        Asterisk's DIALEDTIME / ANSWEREDTIME (seconds) when given: the talk time is what makes
        the agent "the last agent" for the next callback."""
        request = session.request
        call_id = request.get("uniqueid")
        status = request.arg(1).strip().upper()
        agent = request.arg(2).strip()
        ended = self._clock()
        rang = ended - timedelta(seconds=_seconds(request.arg(3)))
        answered = ended - timedelta(seconds=_seconds(request.arg(4)))
        leg_id = f"{call_id}-{agent.rsplit('/', 1)[-1]}"

        async def record() -> None:
            recorder = self._recorder
            if agent:
                await recorder.leg_rang(call_id, leg_id, agent, rang)
                if status == "ANSWER":
                    await recorder.leg_answered(call_id, leg_id, max(rang, answered))
                await recorder.leg_ended(call_id, leg_id, ended, status or "UNKNOWN")
            if status == "ANSWER":
                await recorder.call_routed(call_id, "sticky")
                await self._routing.release(call_id, "answered", ended)
            else:
                reason = DIAL_MISS_REASONS.get(status, "no_answer")
                await recorder.call_routed(call_id, "queue", reason)
                await self._routing.release(call_id, reason, ended)

        self._record_aside(call_id, record)
        # "Reported: do not report again" (an `h` extension may run this script too). On a
        # channel already gone Asterisk answers 511: the report is taken all the same.
        try:
            await session.set_variable("STICKY_RECORDED", "1")
        except AgiHangup:
            return

    async def answered(self, session: AgiSession) -> None:
        """AGI(agi://router/answered,<caller's uniqueid>) on the agent's channel."""
        request = session.request
        call_id = request.arg(1).strip()
        leg_id = request.get("uniqueid")
        endpoint = agent_endpoint(request.get("channel"))
        at = self._clock()
        if not call_id or not leg_id:
            log.warning("agi_answered_without_ids", channel=endpoint)
            return

        async def record() -> None:
            await self._recorder.leg_rang(call_id, leg_id, endpoint, at)
            await self._recorder.leg_answered(call_id, leg_id, at)

        self._record_aside(call_id, record)

    # -- records, written aside ---------------------------------------------------------------

    async def _record_start(self, decision: Decision) -> None:
        await self._recorder.call_started(decision.context.call, decision.context.number)
        await self._recorder.decision_made(decision)

    def _record_aside(self, call_id: str, write: Callable[[], Awaitable[None]]) -> None:
        """Write after this call's earlier writes (a leg needs the call's row), never in front
        of the caller. Bounded: a database that stops answering costs a log line, not a call."""
        previous = self._pending.get(call_id)

        async def run() -> None:
            if previous is not None:
                await asyncio.wait({previous}, timeout=self._record_timeout)
            try:
                async with asyncio.timeout(self._record_timeout):
                    await write()
            except Exception as error:
                log.warning("agi_record_failed", call_id=call_id, error=type(error).__name__)

        task = asyncio.get_running_loop().create_task(run())
        self._pending[call_id] = task
        self._tasks.add(task)

        def done(finished: asyncio.Task[None]) -> None:
            self._tasks.discard(finished)
            if self._pending.get(call_id) is finished:
                del self._pending[call_id]

        task.add_done_callback(done)

    async def drain(self, seconds: float = RECORD_TIMEOUT * 2) -> None:
        """Wait for the writes under way (on shutdown, and in tests)."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=seconds)


async def serve_agi(
    routing: RoutingService,
    recorder: CallRecorder,
    stop: asyncio.Event,
    *,
    host: str = "127.0.0.1",
    port: int = 4573,
    header_timeout: float = 5.0,
    command_timeout: float = 5.0,
    max_connections: int = 200,
) -> None:
    """Serve the three scripts until `stop` is set, then let the writes under way finish."""
    scripts = AgiScripts(routing, recorder)
    server = AgiServer(
        scripts.handlers(),
        host,
        port,
        header_timeout=header_timeout,
        command_timeout=command_timeout,
        max_connections=max_connections,
    )
    await server.serve(stop)
    await scripts.drain()
