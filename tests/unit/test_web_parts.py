"""The web side's pure parts: pop sentences in both languages, the caller-ID name, the sign-in
rate limiter, passwords, words, and escaping in the server-side templates."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from sticky_router.routing_core.callerid import callerid_name
from sticky_router.routing_core.model import Customer, Identity, Ticket
from sticky_router.routing_core.ringing import RingSource
from sticky_router.web.auth.passwords import (
    PasswordChecks,
    PasswordChecksBusy,
    WeakPassword,
    hash_password,
    verify_password,
)
from sticky_router.web.auth.ratelimit import SignInLimiter, TooManyAttempts
from sticky_router.web.auth.sessions import load_session
from sticky_router.web.i18n.words import translate, words_for
from sticky_router.web.pops.dispatch import PopDispatcher
from sticky_router.web.pops.hub import PopHub
from sticky_router.web.pops.store import PopFacts
from sticky_router.web.pops.view import build_pop
from sticky_router.web.templates import environment
from tests.factories import NUMBER_KEY

IDLE_TIME = timedelta(minutes=30)

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
AGENT = 2


def facts(**interaction: Any) -> PopFacts:
    row: dict[str, Any] = {
        "id": 10, "call_id": "c-1", "caller_number": "+79123456701", "customer_id": 1,
        "customer_name": "Ivan Petrov", "class_name": "standard", "account_number": "100201",
        "customer_language": "ru", "route": "sticky", "route_reason": "last_agent",
        "target_agent_id": AGENT, "ticket_id": None, "started_at": NOW, "ended_at": None,
    }  # fmt: skip
    row.update(interaction)
    return PopFacts(row, AGENT, NOW, "sticky")


def past_call(minutes_ago: float, agent_id: int = AGENT, **leg: Any) -> dict[str, Any]:
    ended = NOW - timedelta(minutes=minutes_ago)
    answered = ended - timedelta(minutes=6, seconds=5)
    legs = [{"agent_id": agent_id, "agent": "Boris Ivanov", "answered_at": answered.isoformat(),
             "ended_at": ended.isoformat(), "transferred": False, **leg}]  # fmt: skip
    return {"id": 1, "started_at": answered, "ended_at": ended, "hangup_side": "agent",
            "legs": json.dumps(legs), "notes": "[]", "note": None}  # fmt: skip


@pytest.mark.parametrize(
    ("language", "expected"),
    [("en", "You spoke with them 42 min ago"), ("ru", "Вы говорили с ним 42 мин назад")],
)
def test_last_agent_reason_says_when_you_spoke_in_the_agents_language(
    language: str, expected: str
) -> None:
    pop_facts = facts()
    pop_facts.history = [past_call(42)]
    assert build_pop(pop_facts, language, NOW)["why"]["text"] == expected


def test_each_sticky_reason_has_its_sentence() -> None:
    owner = facts(route_reason="ticket_owner", ticket_id=5)
    owner.tickets = [{"id": 5, "external_id": "T-1001", "subject": "s", "status": "open"}]
    assert build_pop(owner, "en", NOW)["why"]["text"] == "Their ticket T-1001 is yours"
    manager = facts(route_reason="personal_manager")
    assert build_pop(manager, "ru", NOW)["why"]["text"] == "Вы его персональный менеджер"
    escalated = facts(route_reason="escalated_to_specialist")
    escalated.history = [past_call(125, transferred=True, answered_at=None)]
    assert build_pop(escalated, "en", NOW)["why"]["text"] == (
        "They were being transferred to you 2 h 5 min ago"
    )


def test_a_sticky_call_to_someone_else_reaching_you_says_from_the_queue_and_why() -> None:
    missed = facts(target_agent_id=3, outcome_reason="no_answer")
    why = build_pop(missed, "en", NOW)["why"]
    assert (why["code"], why["text"]) == ("queue", "From the queue")
    assert why["detail"] == "their own agent could not take the call"
    transfer = facts()
    transfer.source, transfer.transferred_by = "transfer", "Anna Smirnova"
    assert build_pop(transfer, "ru", NOW)["why"]["text"] == "Вам перевёл Anna Smirnova"


def test_overdue_promise_is_marked_only_on_open_tickets() -> None:
    pop_facts = facts()
    late = NOW - timedelta(hours=1)
    pop_facts.tickets = [
        {"id": 1, "external_id": "T-1", "subject": "a", "status": "open", "promised_by": late},
        {"id": 2, "external_id": "T-2", "subject": "b", "status": "resolved", "promised_by": late},
        {"id": 3, "external_id": "T-3", "subject": "c", "status": "pending",
         "promised_by": NOW + timedelta(hours=1)},
    ]  # fmt: skip
    overdue = {t["id"]: t["overdue"] for t in build_pop(pop_facts, "en", NOW)["tickets"]}
    assert overdue == {"T-1": True, "T-2": False, "T-3": False}


def test_history_gives_who_how_long_who_hung_up_and_notes() -> None:
    pop_facts = facts()
    call = past_call(42)
    call["notes"] = json.dumps([{"by": "Boris Ivanov", "body": "Reset the modem", "at": "x"}])
    pop_facts.history = [call]
    (shown,) = build_pop(pop_facts, "en", NOW)["history"]
    assert shown["agents"] == "Boris Ivanov"
    assert shown["talk"] == "talked 6 min 5 s"
    assert shown["hangup"] == "agent hung up"
    assert shown["ago"] == "42 min ago"
    assert shown["notes"] == [{"by": "Boris Ivanov", "text": "Reset the modem"}]


def test_marks_name_abuse_and_requests_with_their_review_status() -> None:
    pop_facts = facts()
    pop_facts.marks = [
        {"what": "pairing", "kind": "abuse", "reason": "threats", "status": "approved",
         "agent": "Anna Smirnova"},
        {"what": "pairing", "kind": "agent_request", "reason": "x", "status": "pending",
         "agent": "Boris Ivanov"},
    ]  # fmt: skip
    texts = [m["text"] for m in build_pop(pop_facts, "en", NOW)["marks"]]
    assert texts == [
        "Abuse flag (approved) towards Anna Smirnova: Threats",
        "Boris Ivanov asked not to take this caller (pending review)",
    ]


def test_pop_values_are_plain_text_never_marked_up() -> None:
    hostile = "<script>alert(1)</script>"
    pop = build_pop(facts(customer_name=hostile), "en", NOW)
    assert pop["caller"]["name"] == hostile  # the page puts it in with textContent


def test_callerid_name_is_ticket_and_name_and_never_guesses() -> None:
    ivan = Customer(1, "Ivan Petrov", "standard", "100201", "ru")
    ticket = Ticket(7, "T-1001", 1, "No internet", "open", 2, None, None, NOW)
    assert callerid_name(Identity(NUMBER_KEY, (ivan,), ticket)) == "[T-1001] Ivan Petrov"
    assert callerid_name(Identity(NUMBER_KEY, (ivan,))) == "Ivan Petrov"
    assert callerid_name(Identity(None)) == "[?]"
    other = Customer(2, "Romashka LLC", "vip", "100204", "ru")
    assert callerid_name(Identity(NUMBER_KEY, (ivan, other), ticket)) == "[?]"
    odd = Customer(3, 'Eve "the" \\ caller\x07', "standard", None, None)
    assert callerid_name(Identity(NUMBER_KEY, (odd,))) == "Eve the caller"
    long = Customer(4, "A" * 80, "standard", None, None)
    assert len(callerid_name(Identity(NUMBER_KEY, (long,)))) == 40


def test_the_address_limit_is_hard_and_forgets_after_the_window() -> None:
    clock = [0.0]
    limiter = SignInLimiter.create(100, 3, 60, lambda: clock[0])
    for n in range(3):
        limiter.failed(limiter.reserve(f"agent:{n}", "10.0.0.1"))
    with pytest.raises(TooManyAttempts) as refused:
        limiter.reserve("agent:other", "10.0.0.1")
    assert refused.value.seconds == 60
    limiter.reserve("agent:other", "10.0.0.2")  # another address is not limited
    clock[0] = 45
    with pytest.raises(TooManyAttempts) as refused:
        limiter.reserve("agent:other", "10.0.0.1")
    assert refused.value.seconds == 15
    clock[0] = 61
    limiter.reserve("agent:other", "10.0.0.1")


def test_the_account_delay_doubles_to_its_cap_and_a_success_clears_it() -> None:
    clock = [0.0]
    limiter = SignInLimiter.create(2, 1000, 300, lambda: clock[0], delay_cap_seconds=5)
    waits = []
    for _ in range(6):
        try:
            attempt = limiter.reserve("agent:a", "ip")
            waits.append(0)
        except TooManyAttempts as refused:
            waits.append(refused.seconds)
            clock[0] += refused.seconds
            attempt = limiter.reserve("agent:a", "ip")
        limiter.failed(attempt)
    assert waits == [0, 0, 1, 2, 4, 5]
    clock[0] += 5
    success = limiter.reserve("agent:a", "ip")
    limiter.succeeded(success, "agent:a")
    limiter.failed(limiter.reserve("agent:a", "ip"))
    limiter.reserve("agent:a", "ip")  # one failure after a success costs no delay


def test_an_attempt_never_checked_gives_its_slots_back() -> None:
    limiter = SignInLimiter.create(1, 1, 60)
    limiter.unchecked(limiter.reserve("agent:a", "ip"))
    limiter.failed(limiter.reserve("agent:a", "ip"))
    with pytest.raises(TooManyAttempts):
        limiter.reserve("agent:b", "ip")


def test_a_success_gives_back_the_address_slot_but_not_earlier_failures() -> None:
    limiter = SignInLimiter.create(5, 2, 60)
    limiter.failed(limiter.reserve("agent:a", "ip"))
    limiter.succeeded(limiter.reserve("agent:b", "ip"), "agent:b")
    limiter.failed(limiter.reserve("agent:c", "ip"))
    with pytest.raises(TooManyAttempts):
        limiter.reserve("agent:d", "ip")


def test_a_known_browser_has_its_own_delay_and_a_forged_token_is_unknown() -> None:
    limiter = SignInLimiter.create(1, 1000, 60)
    token = limiter.browsers.token_for("agent:a")
    browser = limiter.browsers.browser_of("agent:a", token)
    assert browser is not None
    assert limiter.browsers.browser_of("agent:b", token) is None  # another account's
    assert limiter.browsers.browser_of("agent:a", token[:-2] + "xx") is None
    assert SignInLimiter.create(1, 1, 60).browsers.browser_of("agent:a", token) is None
    limiter.failed(limiter.reserve("agent:a", "ip"))
    with pytest.raises(TooManyAttempts):
        limiter.reserve("agent:a", "ip")
    limiter.failed(limiter.reserve("agent:a", "ip", browser))
    with pytest.raises(TooManyAttempts):
        limiter.reserve("agent:a", "ip", browser)


def test_passwords_are_argon2_hashes_and_weak_ones_are_refused() -> None:
    hashed = hash_password("correct horse")
    assert hashed.startswith("$argon2id$")
    assert verify_password(hashed, "correct horse")
    assert not verify_password(hashed, "wrong horse")
    assert not verify_password(None, "anything")
    assert not verify_password("not a hash", "anything")
    with pytest.raises(WeakPassword, match="at least 8"):
        hash_password("short")


async def test_password_checks_run_a_few_at_a_time_and_refuse_beyond_the_wait() -> None:
    hashed = hash_password("correct horse")
    checks = PasswordChecks(at_once=1, waiting=1)
    first = asyncio.ensure_future(checks.verify(hashed, "correct horse"))
    second = asyncio.ensure_future(checks.verify(hashed, "wrong horse"))
    await asyncio.sleep(0)  # both admitted: one checking, one waiting
    with pytest.raises(PasswordChecksBusy):
        await checks.verify(hashed, "correct horse")
    assert (await first, await second) == (True, False)
    assert await checks.verify(hashed, "correct horse")  # room again


async def test_a_session_cookie_we_never_made_costs_no_query() -> None:
    no_database: Any = None  # any query would fail on None
    for token in ("", "x", "a" * 44, "a" * 42 + "!", "' OR 1=1 --" + "a" * 32):
        assert await load_session(no_database, "agent", token, datetime.now(UTC), IDLE_TIME) is None


def test_words_exist_in_both_languages_and_fall_back_to_english() -> None:
    import sticky_router.web.i18n.screen  # noqa: F401 - registers the screen's words

    english, russian = words_for("en", ("pop.", "action.")), words_for("ru", ("pop.", "action."))
    assert english.keys() == russian.keys()
    untranslated = [k for k in english if english[k] == russian[k] and k not in {
        "action.link_placeholder"}]  # fmt: skip
    assert untranslated == []
    assert translate("de", "sign_in.submit") == "Sign in"
    assert translate("ru", "no.such.key") == "no.such.key"


def test_templates_escape_what_a_person_typed() -> None:
    page = environment().get_template("sign_in.html")
    html = page.render(
        lang="en", t=lambda key, **_: key, kind="agent", action="/agent/sign-in", error=None,
        seconds=0, name='"><script>alert(1)</script>',
    )  # fmt: skip
    assert "<script>alert(1)" not in html
    assert "&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in html


class _BrokenPool:
    async def fetchrow(self, *_args: object) -> None:
        raise ConnectionError("database gone")


async def test_a_pop_that_fails_never_raises_into_the_call_path() -> None:
    dispatcher = PopDispatcher(_BrokenPool(), PopHub(), lambda: NOW)  # type: ignore[arg-type]
    dispatcher.agent_ringing("c-1", "PJSIP/agent2", RingSource.STICKY)  # returns at once
    await asyncio.sleep(0.05)
    await dispatcher.close()


def test_hub_delivers_to_the_agents_subscriptions_only() -> None:
    hub = PopHub()
    with hub.subscribe(1) as first, hub.subscribe(2) as second:
        assert hub.publish(1, {"call_id": "c"}) == 1
        assert first._queue.qsize() == 1
        assert second._queue.qsize() == 0
    assert hub.subscribers(1) == 0
