"""The agents' access window over real HTTP on a real PostgreSQL: a call is readable and
writable by an agent while it rings or talks to them and `agent_access` after their leg ended;
a ring-all colleague who never answered loses it once the ring is over. Outside the window the
answer is exactly the one for a call that never rang them, and nothing is read or written.

The call is recorded by the core's own recorder (as the ARI app and the AMI learner do) and the
rings reach the screen through the real pop dispatcher."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import pytest

from sticky_router.routing_core import CallRecorder, HangupSide, IncomingCall, RoutingService
from sticky_router.routing_core.events import DecisionMade
from sticky_router.routing_core.ringing import RingSource
from sticky_router.web.pops.dispatch import PopDispatcher
from tests.web.conftest import Browser, WebApp

pytestmark = pytest.mark.integration

UNKNOWN_CALLER = "+79990000001"  # nobody's customer: the queue rings everybody
IVAN = "+79123456701"
NOT_YOURS = {"error": "not_your_call", "message": "no such call on your screen"}


async def queue_call(web: WebApp, caller: str = UNKNOWN_CALLER) -> str:
    call_id = f"test-{uuid.uuid4()}"
    call = IncomingCall(call_id, caller, web.clock(), "support")
    decision = await RoutingService(web.pool, default_region="RU", db_budget_seconds=5).decide(
        call, claim=False
    )
    recorder = CallRecorder(web.pool)
    assert await recorder.call_started(call, decision.context.number)
    assert await recorder.decision_made(DecisionMade.of(decision))
    return call_id


async def ring(web: WebApp, call_id: str, *agents: str) -> None:
    """Asterisk rings these agents' phones: the legs are recorded and the pops are made."""
    recorder = CallRecorder(web.pool)
    dispatcher = PopDispatcher(web.pool, web.hub, web.clock)
    for agent in agents:
        assert await recorder.leg_rang(call_id, f"leg-{agent}", f"PJSIP/{agent}", web.clock())
        dispatcher.agent_ringing(call_id, f"PJSIP/{agent}", RingSource.QUEUE)
    for _ in range(200):
        made = await web.pool.fetchval(
            "SELECT count(*) FROM agent_pops WHERE call_id = $1", call_id
        )
        if made == len(agents):
            break
        await asyncio.sleep(0.02)
    await dispatcher.close()


async def signed_in(open_browser: Callable[[], Browser], name: str) -> Browser:
    browser = open_browser()
    assert await browser.sign_in("agent", name) == 303
    return browser


async def later(web: WebApp, delta: timedelta, **agents: Browser) -> None:
    """Time passes; the agents sign in again (their sessions idle out meanwhile)."""
    web.clock.advance(delta)
    for name, browser in agents.items():
        assert await browser.sign_in("agent", name) == 303


async def refused_like_a_stranger(agent: Browser, call_id: str) -> None:
    """Reading and every kind of write get the never-rang-you answer, byte for byte."""
    status, body = await agent.get_json(f"/api/calls/{call_id}/pop")
    assert (status, body) == (404, NOT_YOURS)
    never_rang = await agent.get_json(f"/api/calls/test-{uuid.uuid4()}/pop")
    assert never_rang == (status, body)
    csrf = await agent.csrf()
    for action, payload in (
        ("note", {"text": "read it later"}),
        ("abuse", {"reason": "threats"}),
        ("do-not-pair", {}),
        ("open-ticket", {"subject": "x"}),
    ):
        answer = await agent.post_json(f"/api/calls/{call_id}/{action}", payload, csrf)
        assert answer == (404, NOT_YOURS), action


async def written_by(web: WebApp, name: str) -> dict[str, Any]:
    agent_id = await web.pool.fetchval("SELECT id FROM agents WHERE name = $1", name)
    counts = {}
    for table in ("interaction_notes", "agent_actions", "do_not_pair"):
        counts[table] = await web.pool.fetchval(
            f"SELECT count(*) FROM {table} WHERE agent_id = $1",
            agent_id,
        )
    return counts


async def test_a_ring_all_colleague_who_never_answered_loses_the_call_once_it_is_answered(
    web: WebApp, browsers: Callable[[], Browser]
) -> None:
    anna, boris = await signed_in(browsers, "agent1"), await signed_in(browsers, "agent2")
    call_id = await queue_call(web)
    await ring(web, call_id, "agent1", "agent2")
    status, pop = await boris.get_json(f"/api/calls/{call_id}/pop")
    assert status == 200  # while his phone rings, the pop is his to read
    assert pop["pop"]["caller"]["number"] == UNKNOWN_CALLER

    recorder = CallRecorder(web.pool)
    web.clock.advance(timedelta(seconds=8))
    await recorder.leg_answered(call_id, "leg-agent1", web.clock())
    await recorder.leg_ended(call_id, "leg-agent2", web.clock(), "CANCEL")
    csrf = await anna.csrf()
    note = {"text": "Wants a callback about the invoice"}
    assert (await anna.post_json(f"/api/calls/{call_id}/note", note, csrf))[0] == 200

    before = await written_by(web, "agent2")
    web.clock.advance(timedelta(minutes=2))
    await refused_like_a_stranger(boris, call_id)  # Anna's call now, and her note

    web.clock.advance(timedelta(minutes=5))
    await recorder.leg_ended(call_id, "leg-agent1", web.clock(), "ANSWER", HangupSide.CALLER)
    await recorder.call_ended(call_id, web.clock(), HangupSide.CALLER, "queue")
    await later(web, timedelta(hours=3), agent1=anna, agent2=boris)
    await refused_like_a_stranger(boris, call_id)  # hours later: still nothing
    assert await written_by(web, "agent2") == before
    status, pop = await anna.get_json(f"/api/calls/{call_id}/pop")
    assert status == 200  # Anna talked to the caller: 3 h after is within her 4 h
    assert pop["pop"]["notes"] == [{"by": "Anna Smirnova", "text": note["text"]}]


async def test_the_agent_who_talked_has_the_call_for_the_window_after_their_leg_then_not(
    web: WebApp, browsers: Callable[[], Browser]
) -> None:
    anna = await signed_in(browsers, "agent1")
    call_id = await queue_call(web)
    await ring(web, call_id, "agent1")
    recorder = CallRecorder(web.pool)
    await recorder.leg_answered(call_id, "leg-agent1", web.clock())
    web.clock.advance(timedelta(minutes=6))
    await recorder.leg_ended(call_id, "leg-agent1", web.clock(), "ANSWER", HangupSide.CALLER)
    await recorder.call_ended(call_id, web.clock(), HangupSide.CALLER, "queue")

    await later(web, timedelta(hours=3, minutes=59), agent1=anna)
    csrf = await anna.csrf()
    answer = await anna.post_json(f"/api/calls/{call_id}/note", {"text": "Sent the form"}, csrf)
    assert answer[0] == 200  # the wrap-up after the call is within the window
    before = await written_by(web, "agent1")
    web.clock.advance(timedelta(minutes=2))  # 4 h 1 min after her leg ended
    await refused_like_a_stranger(anna, call_id)
    assert await written_by(web, "agent1") == before
    notes = await web.pool.fetch("SELECT body FROM interaction_notes")
    assert [row["body"] for row in notes] == ["Sent the form"]


async def test_the_window_is_the_configured_one(
    make_web: Callable[..., Awaitable[WebApp]], browsers: Callable[[], Browser]
) -> None:
    web = await make_web(agent_access=timedelta(hours=1))
    anna = browsers()
    anna.base = web.origin
    assert await anna.sign_in("agent", "agent1") == 303
    call_id = await queue_call(web)
    await ring(web, call_id, "agent1")
    recorder = CallRecorder(web.pool)
    await recorder.leg_answered(call_id, "leg-agent1", web.clock())
    await recorder.leg_ended(call_id, "leg-agent1", web.clock(), "ANSWER", HangupSide.AGENT)
    await later(web, timedelta(minutes=59), agent1=anna)
    assert (await anna.get_json(f"/api/calls/{call_id}/pop"))[0] == 200
    web.clock.advance(timedelta(minutes=2))
    await refused_like_a_stranger(anna, call_id)


async def test_after_a_transfer_the_target_keeps_the_call_the_one_who_handed_over_loses_it(
    web: WebApp, browsers: Callable[[], Browser]
) -> None:
    anna, boris = await signed_in(browsers, "agent1"), await signed_in(browsers, "agent2")
    call_id = await queue_call(web, IVAN)
    await ring(web, call_id, "agent1")
    recorder = CallRecorder(web.pool)
    await recorder.leg_answered(call_id, "leg-agent1", web.clock())
    web.clock.advance(timedelta(minutes=3))
    await recorder.transfer(call_id, "leg-agent1", "leg-agent2", "PJSIP/agent2", web.clock())
    await recorder.leg_answered(call_id, "leg-agent2", web.clock())
    await recorder.leg_ended(call_id, "leg-agent1", web.clock(), "ANSWER", HangupSide.AGENT)
    await later(web, timedelta(hours=5), agent1=anna, agent2=boris)  # a long call, still up
    assert (await boris.get_json(f"/api/calls/{call_id}/pop"))[0] == 200
    await refused_like_a_stranger(anna, call_id)  # her leg ended 5 h ago


async def test_a_screen_that_reconnects_gets_no_pop_of_a_call_a_colleague_answered(
    web: WebApp, browsers: Callable[[], Browser]
) -> None:
    """The agent's screen replays the pops of calls still ringing for them; a ring-all pop
    that a colleague took is not one of them (even with no leg of theirs recorded)."""
    boris = await signed_in(browsers, "agent2")
    call_id = await queue_call(web)
    await ring(web, call_id, "agent1")
    dispatcher = PopDispatcher(web.pool, web.hub, web.clock)  # a pop, no leg: AMI missed it
    dispatcher.agent_ringing(call_id, "PJSIP/agent2", RingSource.QUEUE)
    for _ in range(200):
        if await web.pool.fetchval("SELECT count(*) FROM agent_pops WHERE agent_id = 2"):
            break
        await asyncio.sleep(0.02)
    await dispatcher.close()
    web.clock.advance(timedelta(seconds=10))
    await CallRecorder(web.pool).leg_answered(call_id, "leg-agent1", web.clock())
    web.clock.advance(timedelta(minutes=2))
    socket = await boris.socket()
    with pytest.raises(TimeoutError):
        await socket.receive_json(timeout=0.5)
    await socket.close()
    await refused_like_a_stranger(boris, call_id)
