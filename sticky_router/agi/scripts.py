"""The FastAGI scripts, thin adapters around the routing core (no decision logic here).

  lookup       caller's channel, before ringing: the decision as channel variables
  result       caller's channel, after a sticky attempt that missed: why, and free the agent
  answered     agent's channel, when Queue() connects it (its gosub): who took the call
  ended        caller's hangup handler: the end of the call (and an answered or abandoned
               sticky attempt, which no `result` reported)
  agent-ended  the queue agent's hangup handler: the end of that agent's leg

The caller never waits for a database write: what a script learns goes to the journal aside
(routing_core.store.journal, applied to PostgreSQL in order per call whenever PostgreSQL
answers); only letting an agent's claim go is a database write here, bounded by a timeout.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime

import structlog

from sticky_router.agi.probe import AgiProbe
from sticky_router.agi.protocol import AgiHangup, AgiSession
from sticky_router.agi.reports import agent_endpoint, hangup_side, leg_times, sticky_leg_id
from sticky_router.agi.server import Handler
from sticky_router.agi.variables import incoming_call, set_variables
from sticky_router.agi.wait_offer import say
from sticky_router.routing_core import (
    BlockedDecision,
    Decision,
    QueueDecision,
    RoutingService,
    StickyDecision,
)
from sticky_router.routing_core.attempt import (
    CALLER_ABANDONED,
    AttemptOutcome,
    attempt_outcome,
    dial_status,
)
from sticky_router.routing_core.dialplan_variables import attempt_variables, fallback_variables
from sticky_router.routing_core.events import (
    CallEnded,
    CallEvent,
    CallRouted,
    CallStarted,
    DecisionMade,
    EventSink,
    LegAnswered,
    LegEnded,
    LegRang,
)
from sticky_router.routing_core.model import HangupSide
from sticky_router.routing_core.wait_offer import CALLBACK_CONFIRMED, WaitChoice, callback_request

log = structlog.get_logger("sticky_router.agi")

RECORD_TIMEOUT = 2.0
# The core keeps its own database budget (-> db_timeout, the queue); this outer bound only
# catches a core stuck on something else (-> router_error, the queue).
DECIDE_TIMEOUT = 5.0
ROUTER_ERROR = {"STICKY_ROUTE": "queue", "STICKY_REASON": "router_error"}


def now() -> datetime:
    return datetime.now(UTC)


class AgiScripts:
    def __init__(
        self,
        routing: RoutingService,
        journal: EventSink,
        *,
        record_timeout: float = RECORD_TIMEOUT,
        decide_timeout: float = DECIDE_TIMEOUT,
        clock: Callable[[], datetime] = now,
    ) -> None:
        self._routing = routing
        self._journal = journal
        self._record_timeout = record_timeout
        self._decide_timeout = decide_timeout
        self._clock = clock
        self._tasks: set[asyncio.Task[object]] = set()

    def handlers(self) -> dict[str, Handler]:
        return {
            "lookup": self.lookup,
            "result": self.result,
            "answered": self.answered,
            "ended": self.ended,
            "agent-ended": self.agent_ended,
        }

    # -- scripts ------------------------------------------------------------------------------

    async def lookup(self, session: AgiSession) -> None:
        """The decision, and for a sticky one the walk over its candidates (the same as in ARI
        mode: routing_core.candidates, with the facts read through this session): the dialplan
        then rings the chosen agent, or queues the caller with the reason."""
        request = session.request
        try:
            call = incoming_call(request, self._clock())
            async with asyncio.timeout(self._decide_timeout):
                decision = await self._routing.decide(call)
        except Exception:
            # The safety net: whatever broke, the dialplan carries on to the queue.
            log.exception("agi_lookup_failed", call_id=request.get("uniqueid"))
            await set_variables(session, dict(ROUTER_ERROR))
            return
        self._record_start(decision)
        if isinstance(decision, StickyDecision):
            variables = await self._walk(session, decision)
        else:
            variables = attempt_variables(decision)
        await set_variables(session, variables)

    async def _walk(self, session: AgiSession, decision: StickyDecision) -> dict[str, str]:
        call_id = decision.context.call.call_id
        probe = AgiProbe(session, self._routing, decision, self._clock)
        try:
            walk = await self._routing.walk(decision, probe)
        except AgiHangup:
            self._report_miss(call_id, CALLER_ABANDONED)  # the hangup handler records the end
            raise
        except Exception:
            log.exception("agi_walk_failed", call_id=call_id)
            self._report_miss(call_id, ROUTER_ERROR["STICKY_REASON"])
            return {**fallback_variables(decision, ROUTER_ERROR["STICKY_REASON"]), **ROUTER_ERROR}
        if walk.chosen is not None:
            return attempt_variables(decision, walk.chosen, probe.other_nodes.node_of(walk.chosen))
        if walk.offer is WaitChoice.CALLBACK:
            return await self._callback_asked(session, decision)
        reason = walk.first_miss or "busy"
        self._report_miss(call_id, reason)
        return {**fallback_variables(decision, reason), "STICKY_ROUTE": "queue"}

    async def _callback_asked(
        self, session: AgiSession, decision: StickyDecision
    ) -> dict[str, str]:
        """The caller pressed 2: the callback goes to the journal (a promise to call back is
        never lost), the caller is thanked, and the dialplan ends the call (STICKY_ROUTE
        callback; the hangup handler records the end)."""
        call_id = decision.context.call.call_id
        asked = callback_request(decision, self._clock())
        self._learned(
            *([asked] if asked is not None else []), CallRouted(call_id, "callback", "busy")
        )
        self._release_aside(call_id, "callback", self._clock())
        await say(session, CALLBACK_CONFIRMED)
        return {"STICKY_ROUTE": "callback"}

    def _report_miss(self, call_id: str, reason: str) -> None:
        """No candidate was rung: the claims go, and the call is the queue's (or abandoned)."""
        at = self._clock()
        outcome = "abandoned" if reason == CALLER_ABANDONED else "queue"

        self._learned(CallRouted(call_id, outcome, reason))
        self._release_aside(call_id, reason, at)

    async def result(self, session: AgiSession) -> None:
        """AGI(.../result,<DIALSTATUS or busy|paused|offline|unreachable>,<agent>[,DIALEDTIME,
        ANSWEREDTIME,<agent leg id>,HANGUPCAUSE]) after a sticky attempt that did not connect;
        the call goes on to the queue, whose agent's screen learns why from STICKY_REASON."""
        request = session.request
        call_id = request.get("uniqueid")
        attempt = self._report_attempt(
            call_id,
            status=request.arg(1),
            agent=request.arg(2).strip(),
            times=(request.arg(3), request.arg(4)),
            leg_id=request.arg(5),
            side=None,
            cause=request.arg(6),
        )
        try:
            if attempt.reason is not None:
                await session.set_variable("__STICKY_REASON", attempt.reason)
            # Reported: the hangup handler must not report this attempt again.
            await session.set_variable("STICKY_RECORDED", "1")
        except AgiHangup:
            return

    async def answered(self, session: AgiSession) -> None:
        """AGI(.../answered,${STICKY_CALL_ID}) on the channel of the agent Queue() connected."""
        request = session.request
        call_id = request.arg(1).strip() or request.get("uniqueid")
        leg_id = request.get("uniqueid")
        endpoint = agent_endpoint(request.get("channel"))
        at = self._clock()

        self._learned(LegRang(call_id, leg_id, endpoint, at), LegAnswered(call_id, leg_id, at))

    async def ended(self, session: AgiSession) -> None:
        """The caller's hangup handler: AGI(.../ended,${CHANNEL(hangupsource)},<1 when a sticky
        attempt is unreported>,${DIALSTATUS},<agent>,${DIALEDTIME},${ANSWEREDTIME},<leg id>)."""
        request = session.request
        call_id = request.get("uniqueid")
        side = hangup_side(request.arg(1), request.get("channel"), HangupSide.CALLER)
        at = self._clock()
        outcome: str | None = None
        reason: str | None = None
        if request.arg(2).strip() == "1":
            attempt = self._report_attempt(
                call_id,
                status=request.arg(3),
                agent=request.arg(4).strip(),
                times=(request.arg(5), request.arg(6)),
                leg_id=request.arg(7),
                side=side,
                at=at,
            )
            if attempt.outcome == "abandoned":
                outcome, reason = attempt.outcome, attempt.reason

        self._learned(CallEnded(call_id, at, side, outcome, reason))

    async def agent_ended(self, session: AgiSession) -> None:
        """The queue agent's hangup handler: AGI(.../agent-ended,${STICKY_CALL_ID},
        ${CHANNEL(hangupsource)})."""
        request = session.request
        call_id = request.arg(1).strip()
        leg_id = request.get("uniqueid")
        side = hangup_side(request.arg(2), request.get("channel"), HangupSide.AGENT)
        at = self._clock()
        if not call_id:
            log.warning("agi_agent_ended_without_call_id", channel=agent_endpoint(leg_id))
            return

        self._learned(LegEnded(call_id, leg_id, at, "ANSWER", side))

    def _report_attempt(
        self,
        call_id: str,
        *,
        status: str,
        agent: str,
        times: tuple[str, str],
        leg_id: str,
        side: HangupSide | None,
        at: datetime | None = None,
        cause: str = "",
    ) -> AttemptOutcome:
        """Record how a sticky attempt went and free the agent's claim, aside."""
        attempt = attempt_outcome(status, cause)
        ended = at or self._clock()
        events: list[CallEvent] = []
        if attempt.rang and agent:
            leg = sticky_leg_id(call_id, agent, leg_id)
            when = leg_times(ended, *times, answered=attempt.outcome == "sticky")
            events.append(LegRang(call_id, leg, agent, when.rang))
            if when.answered is not None:
                events.append(LegAnswered(call_id, leg, when.answered))
            events.append(LegEnded(call_id, leg, when.ended, dial_status(status), side))
        events.append(CallRouted(call_id, attempt.outcome, attempt.reason))
        self._learned(*events)
        self._release_aside(call_id, attempt.reason or "answered", ended)
        return attempt

    # -- records, written aside ---------------------------------------------------------------

    def _record_start(self, decision: Decision) -> None:
        call_id = decision.context.call.call_id
        events: list[CallEvent] = [
            CallStarted.of(decision.context.call, decision.context.number),
            DecisionMade.of(decision),
        ]
        if isinstance(decision, QueueDecision):
            events.append(CallRouted(call_id, "queue", decision.reason.value))
        elif isinstance(decision, BlockedDecision):
            events.append(CallRouted(call_id, "blocked", "blocked"))
        self._learned(*events)

    def _learned(self, *events: CallEvent) -> None:
        """To the journal, aside: the caller never waits for the disk. Tasks start in the order
        they are made and each queues its events at once, so a call's events keep their order."""
        self._aside(self._journal.append(*events))

    def _release_aside(self, call_id: str, reason: str, at: datetime) -> None:
        """Let the agent's claim go; bounded, and a claim not let go only lasts its hold."""

        async def release() -> None:
            try:
                async with asyncio.timeout(self._record_timeout):
                    await self._routing.release(call_id, reason, at)
            except Exception as error:
                log.warning("agi_release_failed", call_id=call_id, error=type(error).__name__)

        self._aside(release())

    def _aside(self, work: Coroutine[object, object, object]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self, seconds: float = RECORD_TIMEOUT * 2) -> None:
        """Wait for the writes under way (on shutdown, and in tests)."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=seconds)
