"""A pop in words: from the facts read for one call and one agent to what the screen shows.

Pure (no I/O, the time is given), so every sentence is unit-tested in both languages. The result
is plain JSON; the page puts every string in with textContent, so no value here is HTML.
Summary first: `why` and `caller` are what the agent reads before saying hello; tickets,
history and marks follow.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import sticky_router.web.i18n.screen  # noqa: F401 - registers the screen's words
from sticky_router.web.i18n.screen import ABUSE_REASONS
from sticky_router.web.i18n.words import language_of, translator
from sticky_router.web.pops.hub import Pop

if TYPE_CHECKING:
    from sticky_router.web.pops.store import PopFacts

Row = dict[str, Any]
OPEN = ("open", "pending")
MISSED = (
    "busy", "paused", "wrap_up", "offline", "unreachable", "no_answer", "rejected", "cap_reached",
    "agent_inactive",
)  # fmt: skip


def ago(t: Any, delta: timedelta) -> str:
    minutes = max(0, int(delta.total_seconds() // 60))
    if minutes == 0:
        return str(t("ago.moments"))
    if minutes < 60:
        return str(t("ago.minutes", minutes=minutes))
    if minutes < 48 * 60:
        return str(t("ago.hours", hours=minutes // 60, minutes=minutes % 60))
    return str(t("ago.days", days=minutes // (24 * 60)))


def talk_time(t: Any, seconds: float) -> str:
    whole = int(seconds)
    return str(t("talk.seconds", minutes=whole // 60, seconds=whole % 60))


def _time(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))


def _json_list(value: Any) -> list[Row]:
    return list(json.loads(value) if isinstance(value, str) else value or [])


def why(facts: PopFacts, t: Any, now: datetime) -> dict[str, str]:
    """Why this call reached this agent, in one sentence (and a detail for queue calls)."""
    call = facts.interaction
    if facts.source == "transfer":
        by = facts.transferred_by
        text = t("why.transfer", agent=by) if by else t("why.transfer_unknown")
        return {"code": "transfer", "text": text, "detail": ""}
    if call.get("route") == "sticky" and call.get("target_agent_id") == facts.agent_id:
        reason = call.get("route_reason") or "last_agent"
        if reason == "ticket_owner":
            ticket = next((x for x in facts.tickets if x["id"] == call.get("ticket_id")), None)
            ticket = ticket or next((x for x in facts.tickets if x["status"] in OPEN), None)
            # An external source's ticket is named by the call itself, answer or no answer.
            named = call.get("ticket_ref") or (ticket["external_id"] if ticket else None)
            text = t("why.ticket_owner", ticket=named) if named else t("why.ticket_owner_unknown")
        elif reason == "personal_manager":
            text = t("why.personal_manager")
        else:
            escalated = reason == "escalated_to_specialist"
            last = _last_with(facts, escalated)
            ended = _time(last.get("ended_at")) if last else None
            if ended is None:
                text = t("why.escalated_unknown" if escalated else "why.last_agent_unknown")
            else:
                key = "why.escalated_to_specialist" if escalated else "why.last_agent"
                text = t(key, ago=ago(t, now - ended))
        return {"code": reason, "text": text, "detail": ""}
    reason = (
        call.get("outcome_reason") if call.get("route") == "sticky" else call.get("route_reason")
    )
    if reason in MISSED:
        reason = "missed"
    detail_key = f"why.detail.{reason}"
    detail = t(detail_key)
    return {
        "code": "queue",
        "text": t("why.queue"),
        "detail": "" if detail == detail_key else detail,
    }


def _last_with(facts: PopFacts, transferred: bool) -> Row | None:
    """The newest previous call where this agent talked with the caller (or, for an
    escalation, was being transferred the caller)."""
    for past in facts.history:
        for leg in _json_list(past.get("legs")):
            if leg.get("agent_id") != facts.agent_id:
                continue
            if (transferred and leg.get("transferred")) or (
                not transferred and leg.get("answered_at")
            ):
                return past
    return None


def caller(facts: PopFacts, t: Any) -> dict[str, Any]:
    call = facts.interaction
    language = call.get("customer_language")
    return {
        "known": call.get("customer_id") is not None,
        "name": call.get("customer_name") or t("pop.unknown_caller"),
        "number": call.get("caller_number") or "",
        "class": call.get("class_name") or "",
        "language": t(f"lang.{language}") if language else "",
        "account": call.get("account_number") or "",
        "personal_manager": call.get("personal_manager") or "",
    }


def keyed(facts: PopFacts, t: Any) -> list[dict[str, str]]:
    call = facts.interaction
    return [
        {"label": t(f"pop.keyed.{what}"), "value": str(call[f"ivr_{what}"])}
        for what in ("account", "ticket", "menu")
        if call.get(f"ivr_{what}")
    ]


def tickets(facts: PopFacts, t: Any, now: datetime) -> list[dict[str, Any]]:
    shown = []
    for ticket in facts.tickets:
        promised = _time(ticket.get("promised_by"))
        shown.append(
            {
                "id": ticket["external_id"],
                "subject": ticket["subject"],
                "status": ticket["status"],
                "status_text": t(f"ticket.{ticket['status']}"),
                "owner": ticket.get("owner") or "",
                "last_faults": ticket.get("last_faults") or "",
                "promised_by": promised.isoformat() if promised else None,
                "overdue": bool(promised and promised < now and ticket["status"] in OPEN),
                "of_this_call": ticket.get("of_this_call")
                or ticket["id"] == facts.interaction.get("ticket_id"),
                "link": ticket.get("link") or "",
            }
        )
    return shown


def history(facts: PopFacts, t: Any, now: datetime) -> list[dict[str, Any]]:
    shown = []
    for past in facts.history:
        started = _time(past["started_at"])
        ended = _time(past.get("ended_at"))
        legs = _json_list(past.get("legs"))
        agents, talked = [], 0.0
        for leg in legs:
            if leg.get("agent") and leg["agent"] not in agents:
                agents.append(leg["agent"])
            answered, leg_end = _time(leg.get("answered_at")), _time(leg.get("ended_at"))
            if answered and leg_end:
                talked += (leg_end - answered).total_seconds()
        side = past.get("hangup_side")
        notes = [{"by": n["by"], "text": n["body"]} for n in _json_list(past.get("notes"))]
        if past.get("note"):
            notes.insert(0, {"by": "", "text": past["note"]})
        shown.append(
            {
                "when": started.isoformat() if started else None,
                "ago": t("pop.ago", ago=ago(t, now - (ended or started or now))),
                "agents": ", ".join(agents),
                "talk": t("pop.talked", talk=talk_time(t, talked))
                if talked
                else t("pop.not_answered"),
                "hangup": t(f"pop.hangup.{side}") if side else "",
                "notes": notes,
            }
        )
    return shown


def marks(facts: PopFacts, t: Any) -> list[dict[str, str]]:
    shown = []
    for mark in facts.marks:
        status = t(f"pop.status.{mark['status']}")
        if mark["what"] == "warnings":
            text = t("pop.mark.warnings", count=mark["reason"])
            kind = "warnings"
        elif mark["what"] == "block" and mark["status"] == "pending":
            text = t("pop.mark.block_proposed", reason=mark["reason"])
            kind = "block_proposed"
        elif mark["what"] == "block":
            text = t("pop.mark.block", reason=mark["reason"])
            kind = "block"
        elif mark["kind"] == "abuse":
            reason_key = f"abuse.{mark['reason']}"
            reason = t(reason_key) if mark["reason"] in ABUSE_REASONS else mark["reason"]
            text = t("pop.mark.abuse", status=status, agent=mark["agent"], reason=reason)
            kind = "abuse"
        else:
            text = t("pop.mark.agent_request", status=status, agent=mark["agent"])
            kind = "do_not_pair"
        shown.append({"kind": kind, "text": text})
    return shown


def build_pop(facts: PopFacts, language: str, now: datetime) -> Pop:
    t = translator(language)
    call = facts.interaction
    return {
        "call_id": call["call_id"],
        "rang_at": facts.rang_at.isoformat(),
        "language": language_of(language),
        "ended": call.get("ended_at") is not None,
        "why": why(facts, t, now),
        "caller": caller(facts, t),
        "keyed": keyed(facts, t),
        "candidates": [
            {
                "id": c["id"],
                "name": c["name"],
                "account": c.get("account_number") or "",
                "class": c.get("class_name") or "",
            }
            for c in facts.candidates
        ],
        "tickets": tickets(facts, t, now),
        "tickets_unavailable": facts.tickets_unavailable,
        "history": history(facts, t, now),
        "marks": marks(facts, t),
        "notes": [{"by": n["by"], "text": n["body"]} for n in facts.notes],
        "abuse_reasons": [{"code": code, "text": t(f"abuse.{code}")} for code in ABUSE_REASONS],
    }
