"""Asterisk's queue_log, line by line, as call events.

Why queue_log (and not CDR or CEL): when the router is not there, the dialplan queues every call
(STASISSTATUS=FAILED -> sticky-queue), so every call the router missed went through Queue(), and
app_queue writes one line per step of it to a plain file on Asterisk's disk, synchronously,
whatever else is down. It is the record support lines already keep (call-centre reports read it),
its times are epoch seconds (no time-zone guess), its agent is the queue member, and its CONNECT
line names the agent channel's uniqueid: the same leg id the AMI learner records live, so a call
learned both ways is one leg, not two. CDR rows name only the agent channel (no uniqueid) and
split a queue call into one row per ring; CEL would do, but is off by default and much larger.

Lines used (Asterisk 22 app_queue; `time|callid|queue|agent|event|data...`, callid being the
caller channel's uniqueid, which is the interaction's call_id):

  ENTERQUEUE       url|callerid|position
  CONNECT          holdtime|agent channel uniqueid|ringtime
  COMPLETECALLER   holdtime|calltime|position        (the caller hung up)
  COMPLETEAGENT    holdtime|calltime|position        (the agent hung up)
  BLINDTRANSFER    extension|context|holdtime|calltime|position
  ATTENDEDTRANSFER method|...|holdtime|calltime|position
  ABANDON, EXITWITHTIMEOUT, EXITWITHKEY, EXITEMPTY   the caller left the queue unanswered

and the two lines the sticky-ring dialplan adds with QueueLog() (a sticky call never enters a
queue, yet a router that dies while one is connected must still learn its end):

  STICKYRING       agent channel uniqueid           (as the agent answers)
  STICKYEND        answeredtime|hangupsource        (the answered sticky call ended)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sticky_router.routing_core.events import (
    CallEnded,
    CallEvent,
    CallStarted,
    EscalatedToQueue,
    LegAnswered,
    LegEnded,
    LegRang,
)
from sticky_router.routing_core.model import HangupSide

MAX_FIELD = 256  # no real field is longer; a longer one is not queue_log
MAX_OPEN_CALLS = 5000  # calls followed at once; beyond, the oldest is forgotten
LEFT_UNANSWERED = {"ABANDON", "EXITWITHTIMEOUT", "EXITWITHKEY", "EXITEMPTY"}
TRANSFERRED = {"BLINDTRANSFER", "ATTENDEDTRANSFER"}


@dataclass(frozen=True, slots=True)
class QueueLogLine:
    at: datetime
    call_id: str
    queue: str
    agent: str
    event: str
    data: tuple[str, ...]

    def field(self, index: int) -> str:
        return self.data[index] if index < len(self.data) else ""


def parse_line(text: str) -> QueueLogLine | None:
    """None for anything that is not a queue_log line about a call (queue and member changes
    are logged with callid NONE or CLI/AMI; those say nothing about a caller)."""
    parts = text.rstrip("\r\n").split("|")
    if len(parts) < 5 or any(len(part) > MAX_FIELD for part in parts):
        return None
    stamp, call_id, queue, agent, event = parts[:5]
    if not stamp.isdigit() or not call_id or call_id in ("NONE", "CLI", "AMI", "REALTIME"):
        return None
    return QueueLogLine(
        datetime.fromtimestamp(int(stamp), UTC), call_id, queue, agent, event, tuple(parts[5:])
    )


@dataclass
class _OpenCall:
    queue: str
    leg: str | None = None
    agent: str | None = None


@dataclass
class QueueLogCalls:
    """Follows the calls in the log and says what each line implies. `normalise` turns a
    caller ID into the number history is kept under (routing_core.caller_key). Its state (the
    calls still open) is small and kept with the follower's place in the file."""

    normalise: Callable[[str], str | None]
    open: dict[str, _OpenCall] = field(default_factory=dict)

    def events(self, line: QueueLogLine) -> list[CallEvent]:
        call = self.open.get(line.call_id)
        if line.event == "ENTERQUEUE":
            return self._entered(line, call)
        if line.event == "STICKYRING":
            return self._sticky_ring(line)
        if call is None:
            return []  # a call that entered before we started reading: nothing to tie it to
        if line.event == "CONNECT":
            return self._connected(line, call)
        if line.event in ("COMPLETECALLER", "COMPLETEAGENT"):
            side = HangupSide.CALLER if line.event == "COMPLETECALLER" else HangupSide.AGENT
            return self._ended(line, call, side)
        if line.event in TRANSFERRED:
            return self._transferred(line, call)
        if line.event == "STICKYEND":
            by_agent = line.field(1).startswith(line.agent + "-")  # PJSIP/agent2-0000001a
            return self._ended(line, call, HangupSide.AGENT if by_agent else HangupSide.CALLER)
        if line.event in LEFT_UNANSWERED:
            del self.open[line.call_id]
            return [CallEnded(line.call_id, line.at, HangupSide.CALLER)]
        return []

    def _entered(self, line: QueueLogLine, call: _OpenCall | None) -> list[CallEvent]:
        if call is not None:  # transferred on to another queue (second line)
            call.queue, call.leg, call.agent = line.queue, None, None
            return [EscalatedToQueue(line.call_id, line.queue)]
        self._open(line.call_id, _OpenCall(line.queue))
        number = self.normalise(line.field(1))
        return [CallStarted(line.call_id, line.at, line.queue, number)]

    def _sticky_ring(self, line: QueueLogLine) -> list[CallEvent]:
        """The router decided this call and recorded its start: only the leg is needed."""
        leg = line.field(0)
        if not leg or not line.agent:
            return []
        self._open(line.call_id, _OpenCall(line.queue, leg, line.agent))
        return [LegRang(line.call_id, leg, line.agent, line.at)]

    def _open(self, call_id: str, call: _OpenCall) -> None:
        if len(self.open) >= MAX_OPEN_CALLS:
            del self.open[next(iter(self.open))]
        self.open[call_id] = call

    def _connected(self, line: QueueLogLine, call: _OpenCall) -> list[CallEvent]:
        leg = line.field(1)
        if not leg or not line.agent:
            return []
        call.leg, call.agent = leg, line.agent
        ring = line.field(2)
        rang = line.at - timedelta(seconds=int(ring)) if ring.isdigit() else line.at
        return [
            LegRang(line.call_id, leg, line.agent, rang),
            LegAnswered(line.call_id, leg, line.at),
        ]

    def _ended(self, line: QueueLogLine, call: _OpenCall, side: HangupSide) -> list[CallEvent]:
        del self.open[line.call_id]
        ended: list[CallEvent] = []
        if call.leg is not None:
            ended.append(LegEnded(line.call_id, call.leg, line.at, "ANSWER", side))
        return [*ended, CallEnded(line.call_id, line.at, side)]

    def _transferred(self, line: QueueLogLine, call: _OpenCall) -> list[CallEvent]:
        """The agent handed the caller on. Whether to a colleague or a queue, the conversation
        with this agent ended here; a queue logs the caller entering it next (an escalation).
        The call's end is taken as now too, since a colleague's own phone writes no queue_log;
        a live report of the real end, if there is one, came first and is kept."""
        if call.leg is None:
            return []
        leg, call.leg, call.agent = call.leg, None, None
        return [
            LegEnded(line.call_id, leg, line.at, "ANSWER", None),
            CallEnded(line.call_id, line.at, None),
        ]

    def state(self) -> dict[str, list[str | None]]:
        return {key: [c.queue, c.leg, c.agent] for key, c in self.open.items()}

    def restore(self, state: dict[str, list[str | None]]) -> None:
        self.open = {
            key: _OpenCall(str(queue), leg, agent) for key, (queue, leg, agent) in state.items()
        }
