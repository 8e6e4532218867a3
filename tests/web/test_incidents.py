"""Outage mode from the admin side (issue 16), over real HTTP on PostgreSQL: a supervisor
declares an outage (every call, or one queue), the next decision steps aside and carries the
notice, ending it restores stickiness; hostile values are refused; every step is audited."""

from __future__ import annotations

import re
from collections.abc import Callable

from sticky_router.routing_core import QueueDecision, QueueReason, StickyDecision
from sticky_router.routing_core.dialplan_variables import fallback_variables
from tests.web.conftest import Browser, WebApp
from tests.web.test_admin_api import send, signed_in_admin
from tests.web.test_admin_blocks import decide_ivan


async def test_an_outage_declared_and_ended_through_the_api(
    web: WebApp, browsers: Callable[[], Browser]
) -> None:
    boss, csrf = await signed_in_admin(browsers)
    assert isinstance(await decide_ivan(web), StickyDecision)
    refused = [
        {"scope": "global", "description": "fibre cut", "announce_sound": "x)|System(id)"},
        {"scope": "queue", "scope_value": "support,t,,,5", "description": "fibre cut"},
        {"scope": "did", "scope_value": "7495abc", "description": "fibre cut"},
        {"scope": "global", "scope_value": "support", "description": "fibre cut"},
        {"scope": "global", "description": ""},
    ]
    for body in refused:
        status, answer = await send(boss, "POST", "/api/admin/incidents", body, csrf)
        assert status == 422, (body, answer)
    assert await web.pool.fetchval("SELECT count(*) FROM incidents") == 0

    other = {"scope": "queue", "scope_value": "sales", "description": "sales line down"}
    status, _ = await send(boss, "POST", "/api/admin/incidents", other, csrf)
    assert status == 201
    assert isinstance(await decide_ivan(web), StickyDecision)  # another queue's outage
    body = {"scope": "queue", "scope_value": "support", "description": "fibre cut in the north",
            "announce_sound": "sticky-router/outage-notice"}  # fmt: skip
    status, declared = await send(boss, "POST", "/api/admin/incidents", body, csrf)
    assert status == 201, declared
    decision = await decide_ivan(web)
    assert isinstance(decision, QueueDecision)
    assert decision.reason is QueueReason.OUTAGE
    variables = fallback_variables(decision, decision.reason.value)
    assert variables["STICKY_OUTAGE_SOUND"] == "sticky-router/outage-notice"
    status, listed = await send(boss, "GET", "/api/admin/incidents")
    assert [i["description"] for i in listed] == ["sales line down", "fibre cut in the north"]

    status, _ = await send(boss, "POST", f"/api/admin/incidents/{declared['id']}/end", None, csrf)
    assert status == 200
    assert isinstance(await decide_ivan(web), StickyDecision)
    status, _ = await send(boss, "POST", f"/api/admin/incidents/{declared['id']}/end", None, csrf)
    assert status == 404  # ended already
    trail = await web.pool.fetch(
        "SELECT actor, new_value FROM settings_audit WHERE scope_kind = 'incident'"
        " AND scope_value = $1 ORDER BY id",
        str(declared["id"]),
    )
    assert [r["actor"] for r in trail] == ["admin:boss", "admin:boss"]
    assert '"declared"' in trail[0]["new_value"]
    assert trail[1]["new_value"] == '"ended"'


async def test_the_live_view_declares_and_ends_an_outage(
    web: WebApp, browsers: Callable[[], Browser]
) -> None:
    boss, csrf = await signed_in_admin(browsers)
    page = await (await boss.session.get(f"{boss.base}/admin/live")).text()
    assert 'id="no-incidents"' in page
    form = {"csrf_token": csrf, "scope": "global", "scope_value": "",
            "description": "power cut at the PoP",
            "announce_sound": "sticky-router/outage-notice"}  # fmt: skip
    declared = await boss.session.post(f"{boss.base}/admin/incidents", data=form,
                                       headers={"Origin": boss.base})  # fmt: skip
    page = await declared.text()
    assert declared.status == 200  # redirected back to the live view
    assert "power cut at the PoP" in page
    found = re.search(r'data-incident="(\d+)"', page)
    assert found
    decision = await decide_ivan(web)
    assert isinstance(decision, QueueDecision)
    assert decision.reason is QueueReason.OUTAGE
    ended = await boss.session.post(
        f"{boss.base}/admin/incidents/{found.group(1)}/end",
        data={"csrf_token": csrf}, headers={"Origin": boss.base},
    )  # fmt: skip
    assert 'id="no-incidents"' in await ended.text()
    assert isinstance(await decide_ivan(web), StickyDecision)


async def test_the_dashboard_lists_the_outages_of_the_period_in_words(
    web: WebApp, browsers: Callable[[], Browser]
) -> None:
    """Who started each outage (a supervisor, or the queue's backlog by itself), for what, and
    whether it is still in force; an older one outside the period is not listed."""
    await web.pool.execute(
        "INSERT INTO incidents (scope_kind, scope_value, description, started_at, ended_at,"
        " started_by, ended_by) VALUES"
        " ('queue', 'support', 'Backlog: 40 callers waiting, the longest for 610 s',"
        "  now() - interval '3 hours', now() - interval '2 hours', 'automatic', 'automatic'),"
        " ('global', '', '<b>fibre</b> cut', now() - interval '1 hour', NULL, 'admin:boss', NULL),"
        " ('did', '74950000000', 'long ago', now() - interval '90 days',"
        "  now() - interval '89 days', 'admin:boss', 'admin:boss')"
    )
    boss, _ = await signed_in_admin(browsers)
    response = await boss.session.get(f"{boss.base}/admin/dashboard", params={"days": "30"})
    page = await response.text()
    assert response.status == 200
    table = page.split('<table id="outages">', 1)[1].split("</table>", 1)[0]
    rows = [re.sub(r"<[^>]+>", "|", row) for row in table.split("<tr>")[2:]]
    assert len(rows) == 2  # the one 90 days ago is outside the period
    assert all(words in rows[0] for words in ("every call", "in force", "boss"))
    assert "&lt;b&gt;fibre&lt;/b&gt; cut" in rows[0]  # a description is text, never markup
    assert all(words in rows[1] for words in ("queue support", "by itself (queue backlog)"))
    assert "in force" not in rows[1]
