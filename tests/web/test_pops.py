"""Pops and agent actions over real HTTP and websockets on a real PostgreSQL: the call is routed
and recorded by the core itself (as the ARI app does), the ring is reported to the dispatcher
(as ARI and AMI do), and each agent's browser sees only its own pops. Real calls through
Asterisk and Chromium are in tests/browser."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import aiohttp
import pytest
from structlog.testing import capture_logs

from sticky_router.routing_core import CallRecorder, HangupSide, IncomingCall, RoutingService
from sticky_router.routing_core.decision import Decision
from sticky_router.routing_core.events import DecisionMade
from sticky_router.routing_core.ringing import RingSource
from sticky_router.web.pops.dispatch import PopDispatcher
from sticky_router.web.pops.notices import PopNotices
from tests.web.conftest import Browser, WebApp

pytestmark = pytest.mark.integration

IVAN = "+79123456701"
OLGA = "+79123456702"
SHARED = "+74951234500"  # Romashka LLC and Alexey Romanov


async def routed_call(web: WebApp, caller: str, **ivr: str) -> tuple[str, Decision]:
    """A call decided and recorded the way the ARI application does it."""
    call_id = f"test-{uuid.uuid4()}"
    call = IncomingCall(call_id, caller, web.clock(), "support", **ivr)
    decision = await RoutingService(web.pool, default_region="RU", db_budget_seconds=5).decide(
        call, claim=False
    )
    recorder = CallRecorder(web.pool)
    assert await recorder.call_started(call, decision.context.number)
    assert await recorder.decision_made(DecisionMade.of(decision))
    return call_id, decision


async def next_pop(socket: aiohttp.ClientWebSocketResponse, wait: float = 5) -> dict[str, Any]:
    while True:
        message = await socket.receive_json(timeout=wait)
        if message["type"] == "pop":
            return message["pop"]  # type: ignore[no-any-return]


async def signed_in(open_browser: Callable[[], Browser], name: str) -> Browser:
    browser = open_browser()
    assert await browser.sign_in("agent", name) == 303
    return browser


async def test_sticky_ring_pops_why_and_who_on_that_agents_socket_only(
    web: WebApp, browsers: Callable[[], Browser]
) -> None:
    agent2, agent1 = await signed_in(browsers, "agent2"), await signed_in(browsers, "agent1")
    socket2, socket1 = await agent2.socket(), await agent1.socket()
    call_id, decision = await routed_call(web, IVAN, ivr_account="100201", ivr_menu="2")
    assert decision.route.value == "sticky"
    dispatcher = PopDispatcher(web.pool, web.hub, web.clock)
    dispatcher.agent_ringing(call_id, "PJSIP/agent2", RingSource.STICKY)
    dispatcher.agent_ringing(call_id, "PJSIP/agent2", RingSource.QUEUE)  # AMI's report of it
    pop = await next_pop(socket2)
    assert pop["call_id"] == call_id
    assert pop["why"]["code"] == "last_agent"
    assert pop["why"]["text"] == "You spoke with them 42 min ago"
    assert pop["caller"]["name"] == "Ivan Petrov"
    assert pop["caller"]["number"] == IVAN
    assert pop["caller"]["account"] == "100201"
    assert pop["caller"]["language"] == "Russian"
    assert {(k["label"], k["value"]) for k in pop["keyed"]} == {
        ("account", "100201"),
        ("menu choice", "2"),
    }
    ticket = pop["tickets"][0]
    assert (ticket["id"], ticket["subject"], ticket["status"]) == (
        "T-1001",
        "No internet since morning",
        "open",
    )
    assert ticket["last_faults"] == "PPPoE authentication failures"
    assert pop["history"][0]["agents"] == "Boris Ivanov"
    with pytest.raises(asyncio.TimeoutError):
        await next_pop(socket2, wait=0.5)  # one pop per call per agent
    stored = await web.pool.fetch(
        "SELECT agent_id, source FROM agent_pops WHERE call_id = $1", call_id
    )
    assert [tuple(row) for row in stored] == [(2, "sticky")]  # whichever report came first
    with pytest.raises(asyncio.TimeoutError):
        await next_pop(socket1, wait=0.5)  # agent1's phone did not ring
    await dispatcher.close()


async def test_another_agent_cannot_open_or_act_on_the_pop(
    web: WebApp, browsers: Callable[[], Browser]
) -> None:
    agent2, agent1 = await signed_in(browsers, "agent2"), await signed_in(browsers, "agent1")
    socket2 = await agent2.socket()
    call_id, _ = await routed_call(web, IVAN)
    dispatcher = PopDispatcher(web.pool, web.hub, web.clock)
    dispatcher.agent_ringing(call_id, "PJSIP/agent2", RingSource.STICKY)
    await next_pop(socket2)
    status, body = await agent1.get_json(f"/api/calls/{call_id}/pop")
    assert (status, body["error"]) == (404, "not_your_call")
    csrf1 = await agent1.csrf()
    for action, payload in (
        ("note", {"text": "snooping"}),
        ("resolve", {}),
        ("abuse", {"reason": "threats"}),
    ):
        status, body = await agent1.post_json(f"/api/calls/{call_id}/{action}", payload, csrf1)
        assert (status, body["error"]) == (404, "not_your_call")
    assert await web.pool.fetchval("SELECT count(*) FROM interaction_notes") == 0
    status, body = await agent2.get_json(f"/api/calls/{call_id}/pop")
    assert status == 200
    assert body["pop"]["caller"]["name"] == "Ivan Petrov"
    await dispatcher.close()


async def test_actions_need_the_csrf_header(web: WebApp, browsers: Callable[[], Browser]) -> None:
    agent2 = await signed_in(browsers, "agent2")
    socket2 = await agent2.socket()
    call_id, _ = await routed_call(web, IVAN)
    dispatcher = PopDispatcher(web.pool, web.hub, web.clock)
    dispatcher.agent_ringing(call_id, "PJSIP/agent2", RingSource.STICKY)
    await next_pop(socket2)
    status, body = await agent2.post_json(f"/api/calls/{call_id}/note", {"text": "hi"})
    assert (status, body["error"]) == (403, "csrf_failed")
    status, body = await agent2.post_json(f"/api/calls/{call_id}/note", {"text": "hi"}, "wrong")
    assert (status, body["error"]) == (403, "csrf_failed")
    assert await web.pool.fetchval("SELECT count(*) FROM interaction_notes") == 0
    await dispatcher.close()


async def test_note_ticket_and_requests_then_the_next_callback_shows_the_note(
    web: WebApp, browsers: Callable[[], Browser]
) -> None:
    agent2 = await signed_in(browsers, "agent2")
    socket2, csrf = await agent2.socket(), await agent2.csrf()
    call_id, _ = await routed_call(web, IVAN)
    dispatcher = PopDispatcher(web.pool, web.hub, web.clock)
    dispatcher.agent_ringing(call_id, "PJSIP/agent2", RingSource.STICKY)
    pop = await next_pop(socket2)
    assert pop["tickets"][0]["of_this_call"]  # the router attached Ivan's one open ticket

    async def act(action: str, body: dict[str, object], expect: int = 200) -> dict:  # type: ignore[type-arg]
        status, answer = await agent2.post_json(f"/api/calls/{call_id}/{action}", body, csrf)
        assert status == expect, answer
        return answer

    refused = await act("note", {"text": "   "}, 400)
    assert refused["message"] == "text: must not be empty"
    await act("note", {"text": "Router reset; PPPoE back. Call back if it drops again."})
    refused = await act("link-ticket", {"ticket": "T-1002"}, 404)  # Olga's, not Ivan's
    assert refused["message"] == "ticket: no ticket T-1002 of this caller"
    await act("link-ticket", {"ticket": "T-1001"})
    promised = (web.clock() + timedelta(hours=4)).isoformat()
    answer = await act("promise", {"by": promised})
    assert answer["pop"]["tickets"][0]["promised_by"] is not None
    await act("resolve", {})
    opened = await act("open-ticket", {"subject": "Speed below tariff"})
    assert any(t["subject"] == "Speed below tariff" for t in opened["pop"]["tickets"])
    await act("do-not-pair", {})
    refused = await act("abuse", {"reason": "rudeness"}, 400)
    assert refused["message"].startswith("reason: one of threats")
    await act("abuse", {"reason": "insults"})
    flags = await web.pool.fetch(
        "SELECT kind, reason, status, requested_by FROM do_not_pair"
        " WHERE interaction_id IS NOT NULL ORDER BY kind"
    )
    assert [tuple(flag) for flag in flags] == [
        ("abuse", "insults", "pending", "agent2"),
        ("agent_request", "agent request", "pending", "agent2"),
    ]
    resolved = await web.pool.fetchval("SELECT status FROM tickets WHERE external_id = 'T-1001'")
    assert resolved == "resolved"

    # The call ends; Ivan calls back: the pop's history carries the note.
    recorder = CallRecorder(web.pool)
    await recorder.leg_rang(call_id, "leg", "PJSIP/agent2", web.clock())
    await recorder.leg_answered(call_id, "leg", web.clock())
    web.clock.advance(timedelta(minutes=5))
    await recorder.leg_ended(call_id, "leg", web.clock(), "ANSWER", HangupSide.CALLER)
    await recorder.call_ended(call_id, web.clock(), HangupSide.CALLER, "sticky")
    web.clock.advance(timedelta(minutes=10))
    callback_id, _ = await routed_call(web, IVAN)
    dispatcher.agent_ringing(callback_id, "PJSIP/agent2", RingSource.QUEUE)
    pop = await next_pop(socket2)
    assert pop["call_id"] == callback_id
    last = pop["history"][0]
    assert last["notes"] == [
        {"by": "Boris Ivanov", "text": "Router reset; PPPoE back. Call back if it drops again."}
    ]
    assert last["hangup"] == "caller hung up"
    await dispatcher.close()


async def test_shared_number_shows_candidates_and_no_ticket_until_the_agent_picks(
    web: WebApp, browsers: Callable[[], Browser]
) -> None:
    agent1 = await signed_in(browsers, "agent1")
    socket1, csrf = await agent1.socket(), await agent1.csrf()
    call_id, decision = await routed_call(web, SHARED)
    assert decision.context.identity.ambiguous
    dispatcher = PopDispatcher(web.pool, web.hub, web.clock)
    dispatcher.agent_ringing(call_id, "PJSIP/agent1", RingSource.QUEUE)
    pop = await next_pop(socket1)
    assert pop["why"] == {
        "code": "queue",
        "text": "Из очереди",  # agent1 works in Russian
        "detail": "номер общий для нескольких клиентов",
    }
    assert pop["caller"]["known"] is False
    assert [c["name"] for c in pop["candidates"]] == ["Alexey Romanov", "Romashka LLC"]
    assert pop["tickets"] == []
    romashka = next(c["id"] for c in pop["candidates"] if c["name"] == "Romashka LLC")
    status, answer = await agent1.post_json(
        f"/api/calls/{call_id}/customer", {"customer_id": romashka}, csrf
    )
    assert status == 200
    assert answer["pop"]["caller"]["name"] == "Romashka LLC"
    assert answer["pop"]["candidates"] == []
    await dispatcher.close()


async def test_escalated_caller_pops_for_the_specialist_with_the_reason(
    web: WebApp, browsers: Callable[[], Browser]
) -> None:
    from sticky_router.web.auth.accounts import set_password

    await set_password(web.pool, "agent", "agent3", "agent3-secret")
    agent3 = browsers()
    assert await agent3.sign_in("agent", "agent3", "agent3-secret") == 303
    socket3 = await agent3.socket()
    call_id, _ = await routed_call(web, OLGA)
    dispatcher = PopDispatcher(web.pool, web.hub, web.clock)
    dispatcher.agent_ringing(call_id, "PJSIP/agent3", RingSource.STICKY)
    pop = await next_pop(socket3)
    assert pop["why"]["code"] == "escalated_to_specialist"
    assert pop["why"]["text"] == "Его переводили на вас 25 мин назад"
    await dispatcher.close()


async def test_pop_missed_while_away_is_sent_when_the_page_connects(
    web: WebApp, browsers: Callable[[], Browser]
) -> None:
    agent2 = await signed_in(browsers, "agent2")
    call_id, _ = await routed_call(web, IVAN)
    dispatcher = PopDispatcher(web.pool, web.hub, web.clock)
    dispatcher.agent_ringing(call_id, "PJSIP/agent2", RingSource.STICKY)
    for _ in range(100):  # recorded even though no screen was open
        if await web.pool.fetchval("SELECT count(*) FROM agent_pops"):
            break
        await asyncio.sleep(0.02)
    socket2 = await agent2.socket()
    pop = await next_pop(socket2)
    assert pop["call_id"] == call_id
    await CallRecorder(web.pool).call_ended(call_id, web.clock(), HangupSide.CALLER)
    again = await agent2.socket()
    with pytest.raises(asyncio.TimeoutError):
        await next_pop(again, wait=0.5)  # the call is over: nothing to catch up on
    await dispatcher.close()


async def test_unknown_caller_gets_no_ticket_actions_but_a_note_and_a_flag(
    web: WebApp, browsers: Callable[[], Browser]
) -> None:
    agent1 = await signed_in(browsers, "agent1")
    socket1, csrf = await agent1.socket(), await agent1.csrf()
    call_id, _ = await routed_call(web, "+79990000001")
    dispatcher = PopDispatcher(web.pool, web.hub, web.clock)
    dispatcher.agent_ringing(call_id, "PJSIP/agent1", RingSource.QUEUE)
    pop = await next_pop(socket1)
    assert (pop["caller"]["name"], pop["why"]["detail"]) == (
        "Неизвестный абонент",
        "недавних разговоров не было",
    )
    path = f"/api/calls/{call_id}"
    status, body = await agent1.post_json(f"{path}/resolve", {}, csrf)
    assert (status, body["error"]) == (409, "no_ticket")
    status, body = await agent1.post_json(f"{path}/open-ticket", {"subject": "x"}, csrf)
    assert (status, body["error"]) == (409, "customer_unknown")
    assert (await agent1.post_json(f"{path}/note", {"text": "wrong number"}, csrf))[0] == 200
    assert (await agent1.post_json(f"{path}/abuse", {"reason": "nuisance_calls"}, csrf))[0] == 200
    flagged = await web.pool.fetchrow(
        "SELECT customer_id, e164, status FROM do_not_pair WHERE interaction_id IS NOT NULL"
    )
    assert flagged is not None
    assert tuple(flagged) == (None, "+79990000001", "pending")
    await dispatcher.close()


async def test_a_ring_heard_before_its_decision_pops_when_postgresql_says_it_is_decided(
    web: WebApp, browsers: Callable[[], Browser], database_url: str
) -> None:
    """A queue call's first ring can be in the history before its decision (the FastAGI
    process's journal is behind): the pop waits for PostgreSQL's notice, not for a poll."""
    agent2 = await signed_in(browsers, "agent2")
    socket2 = await agent2.socket()
    notices = PopNotices(database_url)
    notices.start()
    try:
        await asyncio.wait_for(notices.listening.wait(), 10)
        call_id = f"test-{uuid.uuid4()}"
        call = IncomingCall(call_id, IVAN, web.clock(), "support")
        recorder = CallRecorder(web.pool)
        assert await recorder.call_started(call, IVAN)  # started, not decided yet
        # It would look again only after 5 s: a pop within 1 s of the decision is the notice's.
        dispatcher = PopDispatcher(web.pool, web.hub, web.clock, 5.0, notices=notices)
        dispatcher.agent_ringing(call_id, "PJSIP/agent2", RingSource.QUEUE)
        await asyncio.sleep(0.3)
        assert not await _socket_has_message(socket2)
        service = RoutingService(web.pool, default_region="RU", db_budget_seconds=5)
        decision = await service.decide(call, claim=False)
        assert await recorder.decision_made(DecisionMade.of(decision))
        pop = await next_pop(socket2, wait=1)
        assert pop["call_id"] == call_id
    finally:
        await notices.stop()


async def test_without_its_decision_a_ring_makes_no_pop(
    web: WebApp, browsers: Callable[[], Browser], database_url: str
) -> None:
    agent2 = await signed_in(browsers, "agent2")
    socket2 = await agent2.socket()
    notices = PopNotices(database_url)
    notices.start()
    try:
        await asyncio.wait_for(notices.listening.wait(), 10)
        dispatcher = PopDispatcher(web.pool, web.hub, web.clock, 0.3, notices=notices)
        dispatcher.agent_ringing("never-decided", "PJSIP/agent2", RingSource.QUEUE)
        await asyncio.sleep(0.6)
        assert not await _socket_has_message(socket2)
    finally:
        await notices.stop()


async def _socket_has_message(socket: aiohttp.ClientWebSocketResponse) -> bool:
    try:
        message = await socket.receive_json(timeout=0.05)
    except TimeoutError:
        return False
    return bool(message.get("type") == "pop")


async def test_a_pop_made_by_another_router_reaches_this_routers_screens_once(
    make_web: Callable[..., Awaitable[WebApp]],
    browsers_of: Callable[[WebApp], Browser],
    database_url: str,
) -> None:
    """Two router processes, each with its own screens (issue 17): agent2 has one tab on each.
    The ring reported to router B pops on both tabs, once each: B's own notice is not a second
    pop, and an unreadable notice is logged and ignored."""
    web_a, web_b = await make_web(), await make_web()
    tab_a, tab_b = browsers_of(web_a), browsers_of(web_b)
    for tab in (tab_a, tab_b):
        assert await tab.sign_in("agent", "agent2") == 303
    socket_a, socket_b = await tab_a.socket(), await tab_b.socket()
    notices = {"a": PopNotices(database_url), "b": PopNotices(database_url)}
    for listener in notices.values():
        listener.start()
    try:
        for listener in notices.values():
            await asyncio.wait_for(listener.listening.wait(), 10)
        router_a = PopDispatcher(web_a.pool, web_a.hub, web_a.clock, notices=notices["a"])
        router_b = PopDispatcher(web_b.pool, web_b.hub, web_b.clock, notices=notices["b"])
        with capture_logs() as logs:
            router_a.pop_made_elsewhere("{not json")
        assert [entry["event"] for entry in logs] == ["pop_notice_unreadable"]
        call_id, _ = await routed_call(web_b, IVAN)
        router_b.agent_ringing(call_id, "PJSIP/agent2", RingSource.STICKY)
        router_b.agent_ringing(call_id, "PJSIP/agent2", RingSource.QUEUE)  # AMI's report of it
        assert (await next_pop(socket_a))["call_id"] == call_id
        assert (await next_pop(socket_b))["call_id"] == call_id
        await asyncio.sleep(0.5)  # a second pop, from B's own notice or AMI's report, by now
        assert not await _socket_has_message(socket_a)
        assert not await _socket_has_message(socket_b)
    finally:
        for listener in notices.values():
            await listener.stop()
