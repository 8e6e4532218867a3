"""The journal note a finished call leaves on its Redmine issue, and the marker that makes it once.

The marker (`(sticky-router call <call id>)`, brackets included: call `1.4` is not call `1.41`)
is in the note's first line: before writing, the source looks for it among the issue's notes,
so a report repeated after a crash or a timeout never writes a second note.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sticky_router.routing_core.tickets import CallReport

MAX_AGENT_NOTE = 4000


def marker(call_id: str) -> str:
    return f"(sticky-router call {call_id})"


def note_text(report: CallReport) -> str:
    lines = [f"Phone call {marker(report.call_id)}"]
    if report.caller_number:
        lines.append(f"Caller: {report.caller_number}")
    when = f"When: {_at(report.started_at)}"
    if report.answered_at is not None:
        waited = _duration(report.answered_at - report.started_at)
        talked = _duration(report.ended_at - report.answered_at)
        when += f", answered after {waited}, talked {talked}"
    else:
        when += f", not answered ({_duration(report.ended_at - report.started_at)})"
    lines.append(when)
    if report.agent_login:
        lines.append(f"Agent: {report.agent_login}")
    if report.route:
        why = f" ({report.reason.replace('_', ' ')})" if report.reason else ""
        lines.append(f"Route: {report.route}{why}")
    if report.note and report.note.strip():
        lines.append("Agent's note:")
        lines += [f"> {line}" for line in _inert(report.note).splitlines()]
    return "\n".join(lines)


def _inert(text: str) -> str:
    """An agent's words as text: Redmine macros (`{{...}}`) would run when the note renders."""
    return text.strip()[:MAX_AGENT_NOTE].replace("{{", "{ {").replace("}}", "} }")


def _at(moment: datetime) -> str:
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S %Z")


def _duration(span: timedelta) -> str:
    seconds = max(0, int(span.total_seconds()))
    minutes, seconds = divmod(seconds, 60)
    return f"{minutes} min {seconds} s" if minutes else f"{seconds} s"
