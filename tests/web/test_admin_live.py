"""The supervisors' live view over a real websocket on PostgreSQL (issue 22): what is pushed,
to whom, and what a supervisor sees of a caller. The same view on a real line (Asterisk's own
queue state, SIPp calls, Chromium) is tests/admin_browser/test_admin_live.py."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import asyncpg

from sticky_router.routing_core.live import MemberFacts
from tests.web.conftest import Browser, WebApp
from tests.web.test_admin_settings_page import admin_of

IVAN = "+79123456701"
BOARD = [
    MemberFacts("support", "PJSIP/agent1", "NOT_INUSE", paused=True, pause_reason="lunch"),
    MemberFacts("support", "PJSIP/agent2", "RINGING", paused=False),
    MemberFacts("support", "PJSIP/agent3", "NOT_INUSE", paused=False),
]


async def call_ringing_agent2(pool: asyncpg.Pool) -> None:
    """Ivan's callback decided sticky to agent2, whose phone rings now; and an earlier callback
    of Olga's that missed agent2 because agent2 was busy."""
    now = datetime.now(UTC)
    agent2 = await pool.fetchval("SELECT id FROM agents WHERE name = 'agent2'")
    ringing = await pool.fetchval(
        "INSERT INTO interactions (call_id, caller_number, queue, started_at, route, "
        "route_reason, target_agent_id) VALUES ('live-1', $1, 'support', $2, 'sticky', "
        "'last_agent', $3) RETURNING id",
        IVAN, now - timedelta(seconds=4), agent2,
    )  # fmt: skip
    await pool.execute(
        "INSERT INTO interaction_legs (interaction_id, leg_id, agent_id, role, rang_at) "
        "VALUES ($1, 'leg-1', $2, 'first_line', $3)",
        ringing, agent2, now - timedelta(seconds=2),
    )  # fmt: skip
    agent1 = await pool.fetchval("SELECT id FROM agents WHERE name = 'agent1'")
    missed = await pool.fetchval(
        "INSERT INTO interactions (call_id, caller_number, queue, started_at, answered_at, "
        "route, route_reason, target_agent_id, outcome, outcome_reason) VALUES ('live-2', "
        "'+79123456703', 'support', $1, $2, 'sticky', 'last_agent', $3, 'queue', 'busy') "
        "RETURNING id",
        now - timedelta(seconds=40), now - timedelta(seconds=30), agent2,
    )  # fmt: skip
    await pool.execute(
        "INSERT INTO interaction_legs (interaction_id, leg_id, agent_id, role, rang_at, "
        "answered_at) VALUES ($1, 'leg-2', $2, 'first_line', $3, $3)",
        missed, agent1, now - timedelta(seconds=30),
    )  # fmt: skip
    await pool.execute(
        "INSERT INTO interactions (call_id, caller_number, queue, started_at, ended_at, route, "
        "route_reason, target_agent_id, outcome, outcome_reason) VALUES ('live-0', "
        "'+79123456702', 'support', $1, $2, 'sticky', 'last_agent', $3, 'queue', 'busy')",
        now - timedelta(minutes=3), now - timedelta(minutes=1), agent2,
    )  # fmt: skip


async def first_state(boss: Browser) -> tuple[aiohttp.ClientWebSocketResponse, dict[str, Any]]:
    socket = await boss.session.ws_connect(
        f"{boss.base}/admin/live/ws", headers={"Origin": boss.base}
    )
    return socket, await socket.receive_json(timeout=5)


async def test_a_supervisor_sees_calls_agents_and_misses_pushed(
    make_web: Callable[..., Awaitable[WebApp]], browsers: Callable[[], Browser]
) -> None:
    web = await make_web(live_members=lambda: BOARD)
    await call_ringing_agent2(web.pool)
    boss, _ = await admin_of(web, browsers)
    socket, state = await first_state(boss)
    try:
        assert state["type"] == "live"
        assert state["agents_known"] is True
        call, queued = state["calls"]  # newest first
        assert {k: queued[k] for k in ("state", "agent", "missed_because")} == {
            "state": "talking",
            "agent": "Anna Smirnova",
            "missed_because": "busy",
        }
        assert {k: call[k] for k in ("caller", "queue", "state", "reason", "agent")} == {
            "caller": "…6701", "queue": "support", "state": "ringing_agent",
            "reason": "last_agent", "agent": "Boris Ivanov",
        }  # fmt: skip
        assert call["missed_because"] == ""
        assert 2 <= call["seconds"] < 60  # started 4 s before now (the app's clock is older)
        agents = {a["name"]: (a["state"], a["queues"], a["pause_reason"]) for a in state["agents"]}
        assert agents["agent1"] == ("busy", ["support"], "lunch")  # paused, but still talking
        assert agents["agent2"] == ("ringing", ["support"], "")
        assert agents["agent3"] == ("free", ["support"], "")
        assert agents["agent4"] == ("logged_out", [], "")  # in no queue Asterisk reports
        # Both callbacks that found agent2 busy, the one still talking to agent1 included.
        assert [(m["reason"], m["agent"], m["queue"]) for m in state["misses"]] == [
            ("busy", "Boris Ivanov", "support"), ("busy", "Boris Ivanov", "support")
        ]  # fmt: skip
        # Nothing of the caller beyond the last four digits, nothing of a ticket.
        text = str(state)
        assert IVAN not in text
        assert "79123456702" not in text
        assert "79123456703" not in text
        # The answer is pushed: agent2 picks up, the next message says so.
        await web.pool.execute("UPDATE interaction_legs SET answered_at = now() "
                               "WHERE leg_id = 'leg-1'")  # fmt: skip
        for _ in range(10):
            state = await socket.receive_json(timeout=5)
            if state["calls"][0]["state"] == "talking":
                break
        assert state["calls"][0]["state"] == "talking"
    finally:
        await socket.close()


async def test_without_amis_queue_state_the_agents_are_unknown_not_guessed(
    make_web: Callable[..., Awaitable[WebApp]], browsers: Callable[[], Browser]
) -> None:
    web = await make_web(live_members=lambda: None)
    boss, _ = await admin_of(web, browsers)
    socket, state = await first_state(boss)
    await socket.close()
    assert state["agents_known"] is False
    assert {a["state"] for a in state["agents"]} == {"unknown"}


async def test_the_live_view_is_for_admins_only_and_ends_with_the_session(
    make_web: Callable[..., Awaitable[WebApp]], browsers: Callable[[], Browser]
) -> None:
    web = await make_web(live_members=lambda: BOARD, socket_session_check_seconds=0.2)
    agent = browsers()
    agent.base = web.origin
    assert await agent.sign_in("agent", "agent1") == 303
    for path in ("/admin/live", "/admin/live/ws"):
        response = await agent.session.get(f"{web.origin}{path}", headers={"Origin": web.origin})
        assert response.status == 403, path
    nobody = browsers()
    response = await nobody.session.get(
        f"{web.origin}/admin/live/ws", headers={"Origin": web.origin}, allow_redirects=False
    )
    assert response.status in (303, 401)
    boss, csrf = await admin_of(web, browsers)
    page = await boss.session.get(f"{web.origin}/admin/live")
    assert page.status == 200
    assert "/static/admin_live.js" in await page.text()
    socket, _ = await first_state(boss)
    signed_out = await boss.session.post(
        f"{web.origin}/admin/sign-out", data={"csrf_token": csrf},
        headers={"Origin": web.origin}, allow_redirects=False,
    )  # fmt: skip
    assert signed_out.status in (302, 303)
    while True:
        message = await socket.receive(timeout=5)
        if message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED):
            break
    assert socket.close_code == 4401
