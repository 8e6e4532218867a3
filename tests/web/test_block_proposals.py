"""An abusive caller, step by step (issue 22), over real HTTP on PostgreSQL: the agent warns
them (recorded, shown on later pops) and proposes a temporary block from the call on their
screen; the proposal never changes routing by itself; a supervisor approves it with a
destination and an expiry (or rejects it), a supervisor's own proposal needs another
supervisor, and every step is audited."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from sticky_router.routing_core import BlockedDecision
from sticky_router.routing_core.ringing import RingSource
from sticky_router.web.auth.accounts import add_admin, set_password
from sticky_router.web.pops.dispatch import PopDispatcher
from tests.web.conftest import Browser, WebApp
from tests.web.test_admin_api import admin_csrf, send, signed_in_admin
from tests.web.test_admin_blocks import IVAN, decide_ivan
from tests.web.test_admin_settings_page import admin_of
from tests.web.test_pops import next_pop, routed_call, signed_in


def until(days: int) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).isoformat()


async def test_an_agent_warns_and_proposes_and_a_supervisor_approves_the_block(
    web: WebApp, browsers: Callable[[], Browser]
) -> None:
    agent2 = await signed_in(browsers, "agent2")
    socket, csrf = await agent2.socket(), await agent2.csrf()
    call_id, _ = await routed_call(web, IVAN)
    PopDispatcher(web.pool, web.hub, web.clock).agent_ringing(
        call_id, "PJSIP/agent2", RingSource.STICKY
    )
    await next_pop(socket)

    async def act(action: str, body: dict[str, object], expect: int = 200) -> dict:  # type: ignore[type-arg]
        status, answer = await agent2.post_json(f"/api/calls/{call_id}/{action}", body, csrf)
        assert status == expect, answer
        return answer

    warned = await act("warn", {"note": "asked him to stop shouting"})
    marks = [m["text"] for m in warned["pop"]["marks"]]
    assert "Warned for their conduct: 1 time(s)" in marks
    refused = await act("propose-block", {"reason": "  "}, 400)
    assert refused["message"] == "reason: must not be empty"
    proposed = await act("propose-block", {"reason": "shouting after two warnings"})
    marks = [m["text"] for m in proposed["pop"]["marks"]]
    assert "A temporary block is proposed, waiting for a supervisor: shouting after two " \
        "warnings" in marks  # fmt: skip
    await act("propose-block", {"reason": "again"})  # the same proposal, not a second one
    pending = await web.pool.fetch(
        "SELECT id, reason, set_by, interaction_id IS NOT NULL AS from_call FROM caller_blocks"
        " WHERE status = 'pending'"
    )
    assert [(r["reason"], r["set_by"], r["from_call"]) for r in pending] == [
        ("shouting after two warnings", "agent:agent2", True)
    ]
    block_id = pending[0]["id"]
    # Waiting for a supervisor changes nothing for the caller.
    assert not isinstance(await decide_ivan(web), BlockedDecision)

    boss, admin_csrf = await signed_in_admin(browsers)
    status, listed = await send(boss, "GET", "/api/admin/flags")
    assert [p["id"] for p in listed["proposals"]] == [block_id]
    page = await (await boss.session.get(f"{boss.base}/admin/flags")).text()
    assert f'data-proposal="{block_id}"' in page
    assert '<td class="warnings">1</td>' in page
    # The destination reaches the dialplan: held to a queue's or a sound's name.
    for hostile in ("supervisors,t,,,5", "supervisors&PJSIP/9001"):
        body = {"destination_kind": "queue", "destination": hostile, "expires_at": until(7)}
        status, answer = await send(
            boss, "POST", f"/api/admin/blocks/{block_id}/approve", body, admin_csrf
        )
        assert (status, answer["field"]) == (422, "body"), answer
    body = {"destination_kind": "queue", "destination": "supervisors", "expires_at": until(400)}
    status, answer = await send(boss, "POST", f"/api/admin/blocks/{block_id}/approve", body,
                                admin_csrf)  # fmt: skip
    assert (status, answer["field"]) == (422, "expires_at")
    body["expires_at"] = until(7)
    status, answer = await send(boss, "POST", f"/api/admin/blocks/{block_id}/approve", body,
                                admin_csrf)  # fmt: skip
    assert status == 200, answer
    decision = await decide_ivan(web)
    assert isinstance(decision, BlockedDecision)
    assert (decision.block.destination_kind, decision.block.destination) == ("queue", "supervisors")
    status, _ = await send(boss, "POST", f"/api/admin/blocks/{block_id}/reject", None, admin_csrf)
    assert status == 404  # no longer waiting
    trail = await web.pool.fetch(
        "SELECT actor, key, new_value->>'status' AS status FROM settings_audit"
        " WHERE scope_kind = 'caller_block' AND scope_value = $1 ORDER BY id",
        str(block_id),
    )
    assert [(r["actor"], r["key"], r["status"]) for r in trail] == [
        ("agent:agent2", "proposal", "pending"),
        ("agent:agent2", "proposal", "pending"),
        ("admin:boss", "status", "approved"),
    ]
    actions = await web.pool.fetch(
        "SELECT action FROM agent_actions WHERE action IN ('warning', 'propose_block') ORDER BY id"
    )
    assert [r["action"] for r in actions] == ["warning", "propose_block", "propose_block"]


async def test_a_block_to_a_queue_asterisk_lacks_is_refused(
    make_web: Callable[..., Awaitable[WebApp]], browsers: Callable[[], Browser]
) -> None:
    """Queue() on a queue that does not exist ends the caller's call: when the router knows
    Asterisk's queues, a supervisor's typo is refused before any caller meets it."""
    web = await make_web(queue_names=lambda: {"support", "supervisors"})
    boss, csrf = await admin_of(web, browsers)
    customer = await web.pool.fetchval("SELECT customer_id FROM phone_numbers WHERE e164 = $1",
                                       IVAN)  # fmt: skip
    block = {"customer_id": customer, "reason": "threats", "destination_kind": "queue",
             "destination": "supervisers", "expires_at": until(7)}  # fmt: skip
    status, answer = await send(boss, "POST", "/api/admin/blocks", block, csrf)
    assert (status, answer["field"]) == (422, "destination")
    assert "Asterisk has no queue 'supervisers'" in answer["message"]
    status, _ = await send(boss, "POST", "/api/admin/blocks", {**block, "destination":
                                                              "supervisors"}, csrf)  # fmt: skip
    assert status == 201
    assert isinstance(await decide_ivan(web), BlockedDecision)


async def test_a_supervisors_own_proposal_needs_another_supervisor_and_can_be_rejected(
    web: WebApp, browsers: Callable[[], Browser]
) -> None:
    await add_admin(web.pool, "deputy", "The Deputy")
    await set_password(web.pool, "admin", "deputy", "deputy-secret-1")
    boss, csrf = await signed_in_admin(browsers)
    customer = await web.pool.fetchval("SELECT customer_id FROM phone_numbers WHERE e164 = $1",
                                       IVAN)  # fmt: skip
    wanted = {"customer_id": customer, "reason": "abuse on the forum"}
    status, proposed = await send(boss, "POST", "/api/admin/blocks/proposals", wanted, csrf)
    assert (status, proposed["status"]) == (201, "pending")
    approval = {"destination_kind": "message", "destination": "sticky-router/policy",
                "expires_at": until(3)}  # fmt: skip
    status, answer = await send(boss, "POST", f"/api/admin/blocks/{proposed['id']}/approve",
                                approval, csrf)  # fmt: skip
    assert (status, answer["error"]) == (403, "self_approval")
    assert not isinstance(await decide_ivan(web), BlockedDecision)
    deputy = browsers()
    assert await deputy.sign_in("admin", "deputy", "deputy-secret-1") == 303
    deputy_csrf = await admin_csrf(deputy)
    status, _ = await send(deputy, "POST", f"/api/admin/blocks/{proposed['id']}/reject", None,
                           deputy_csrf)  # fmt: skip
    assert status == 200
    assert await web.pool.fetchval("SELECT status FROM caller_blocks WHERE id = $1",
                                   proposed["id"]) == "rejected"  # fmt: skip
    assert not isinstance(await decide_ivan(web), BlockedDecision)
    # A new proposal is possible once the last one was decided; the deputy approves it.
    status, again = await send(boss, "POST", "/api/admin/blocks/proposals",
                               {"customer_id": customer, "reason": "again"}, csrf)  # fmt: skip
    assert status == 201
    assert again["id"] != proposed["id"]
    status, _ = await send(deputy, "POST", f"/api/admin/blocks/{again['id']}/approve", approval,
                           deputy_csrf)  # fmt: skip
    assert status == 200
    decision = await decide_ivan(web)
    assert isinstance(decision, BlockedDecision)
    assert decision.block.destination == "sticky-router/policy"


async def test_an_agent_can_warn_only_on_a_call_that_reached_them(
    web: WebApp, browsers: Callable[[], Browser]
) -> None:
    agent1 = await signed_in(browsers, "agent1")
    csrf = await agent1.csrf()
    call_id, _ = await routed_call(web, IVAN)  # rings agent2, never agent1
    for action in ("warn", "propose-block"):
        status, answer = await agent1.post_json(f"/api/calls/{call_id}/{action}",
                                                {"reason": "x", "note": "x"}, csrf)  # fmt: skip
        assert (status, answer["error"]) == (404, "not_your_call")
    assert (
        await web.pool.fetchval("SELECT count(*) FROM caller_blocks WHERE status = 'pending'") == 0
    )
