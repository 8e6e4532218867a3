"""The abuse workflow to its end, over real HTTP on a real PostgreSQL: an agent's abuse flag
becomes a caller block that a supervisor sets with an expiry and a destination, the next call of
that caller is decided `blocked` to that destination, the block is listed, lifted and audited."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sticky_router.routing_core import BlockedDecision, IncomingCall, RoutingService
from tests.web.conftest import Browser, WebApp
from tests.web.test_admin_api import send, signed_in_admin

IVAN = "+79123456701"  # demo: agent2's caller, no block of his own


async def abuse_flag_on_ivan(web: WebApp) -> int:
    """agent2 flagged Ivan for abuse on their last call (what the agent screen's button does).
    Ivan starts unblocked whatever an earlier test left."""
    await web.pool.execute(
        "DELETE FROM caller_blocks WHERE e164 = $1 OR customer_id IN"
        " (SELECT customer_id FROM phone_numbers WHERE e164 = $1)",
        IVAN,
    )
    agent_id = await web.pool.fetchval("SELECT id FROM agents WHERE name = 'agent2'")
    customer_id = await web.pool.fetchval(
        "SELECT customer_id FROM phone_numbers WHERE e164 = $1", IVAN
    )
    flag_id = await web.pool.fetchval(
        "INSERT INTO do_not_pair (customer_id, e164, agent_id, kind, reason, requested_by)"
        " VALUES ($1, $2, $3, 'abuse', 'threatened the agent', 'agent2') RETURNING id",
        customer_id, IVAN, agent_id,
    )  # fmt: skip
    return int(flag_id)


async def decide_ivan(web: WebApp) -> Any:
    routing = RoutingService(web.pool, default_region="RU", db_budget_seconds=2.0)
    call = IncomingCall(f"b-{uuid.uuid4()}", IVAN, datetime.now(UTC), "support")
    return await routing.decide(call, claim=False)


def block_body(flag: int, /, **change: Any) -> dict[str, Any]:
    return {
        "flag_id": flag,
        "reason": "threatened the agent twice",
        "destination_kind": "queue",
        "destination": "supervisors",
        "expires_at": (datetime.now(UTC) + timedelta(days=7)).isoformat(),
        **change,
    }


async def test_a_flagged_caller_is_blocked_to_the_supervisors_then_lifted_all_audited(
    web: WebApp, browsers: Callable[[], Browser]
) -> None:
    flag_id = await abuse_flag_on_ivan(web)
    assert not isinstance(await decide_ivan(web), BlockedDecision)
    boss, csrf = await signed_in_admin(browsers)
    status, created = await send(boss, "POST", "/api/admin/blocks", block_body(flag_id), csrf)
    assert status == 201, created
    decision = await decide_ivan(web)
    assert isinstance(decision, BlockedDecision)
    assert (decision.block.destination_kind, decision.block.destination) == ("queue", "supervisors")
    status, listed = await send(boss, "GET", "/api/admin/flags")
    assert created["id"] in [b["id"] for b in listed["blocks"]]

    status, _ = await send(boss, "POST", f"/api/admin/blocks/{created['id']}/lift", None, csrf)
    assert status == 200
    assert not isinstance(await decide_ivan(web), BlockedDecision)
    status, _ = await send(boss, "POST", f"/api/admin/blocks/{created['id']}/lift", None, csrf)
    assert status == 404  # lifted already
    trail = await web.pool.fetch(
        "SELECT actor, old_value, new_value FROM settings_audit WHERE scope_kind = 'caller_block'"
        " AND scope_value = $1 ORDER BY id",
        str(created["id"]),
    )
    assert [row["actor"] for row in trail] == ["admin:boss", "admin:boss"]
    assert '"supervisors"' in trail[0]["new_value"]
    assert trail[1]["new_value"] == '"lifted"'


async def test_what_would_reach_the_dialplan_or_never_end_is_refused_naming_the_field(
    web: WebApp, browsers: Callable[[], Browser]
) -> None:
    flag_id = await abuse_flag_on_ivan(web)
    boss, csrf = await signed_in_admin(browsers)
    past = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    forever = (datetime.now(UTC) + timedelta(days=400)).isoformat()
    refused = [
        (block_body(flag_id, destination="supervisors,t,,,5"), 422),
        (block_body(flag_id, destination_kind="message", destination="x)|System(id)"), 422),
        (block_body(flag_id, expires_at=past), 422),
        (block_body(flag_id, expires_at=forever), 422),
        (block_body(flag_id, e164=IVAN), 422),  # the caller named twice
        (block_body(flag_id, flag_id=None), 422),  # nobody named
        (block_body(10**9), 404),  # no such flag
    ]
    for body, expected in refused:
        status, answer = await send(boss, "POST", "/api/admin/blocks", body, csrf)
        assert status == expected, (body, answer)
    assert await web.pool.fetchval("SELECT count(*) FROM caller_blocks WHERE e164 = $1", IVAN) == 0


async def test_the_flags_page_blocks_the_flagged_caller_and_lifts_the_block(
    web: WebApp, browsers: Callable[[], Browser]
) -> None:
    flag_id = await abuse_flag_on_ivan(web)
    boss, csrf = await signed_in_admin(browsers)
    page = await (await boss.session.get(f"{boss.base}/admin/flags")).text()
    assert f'data-block-flag="{flag_id}"' in page  # the pending abuse flag offers a block
    until = (datetime.now(UTC) + timedelta(days=3)).date().isoformat()
    form = {
        "csrf_token": csrf, "flag_id": str(flag_id), "reason": "threatened the agent",
        "destination_kind": "message", "destination": "custom/abuse-policy",
        "expires_on": until,
    }  # fmt: skip
    response = await boss.session.post(
        f"{boss.base}/admin/blocks", data=form, headers={"Origin": boss.base}
    )
    page = await response.text()
    assert response.status == 200, page[:500]
    assert 'id="reviewed"' in page
    found = re.search(r'<tr data-block="(\d+)"><td>[^<]*' + re.escape(IVAN), page)
    assert found is not None, page[:800]
    decision = await decide_ivan(web)
    assert isinstance(decision, BlockedDecision)
    assert decision.block.destination == "custom/abuse-policy"
    response = await boss.session.post(
        f"{boss.base}/admin/blocks/{found.group(1)}/lift",
        data={"csrf_token": csrf},
        headers={"Origin": boss.base},
    )
    assert response.status == 200
    assert f'data-block="{found.group(1)}"' not in await response.text()
    assert not isinstance(await decide_ivan(web), BlockedDecision)
