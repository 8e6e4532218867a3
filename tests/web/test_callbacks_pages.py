"""Callbacks owed (issue 16) on the pages, over real HTTP on PostgreSQL: the owning agent sees
theirs on the screen and can ask for it now; nobody else sees it or can; a callback that was
never made is listed for the supervisors."""

from __future__ import annotations

from collections.abc import Callable

from tests.web.conftest import Browser, WebApp
from tests.web.test_admin_api import signed_in_admin

IVAN = "+79123456701"


async def owe_ivan(web: WebApp, status: str = "pending") -> int:
    agent2 = await web.pool.fetchval("SELECT id FROM agents WHERE name = 'agent2'")
    callback = await web.pool.fetchval(
        "INSERT INTO callbacks (call_id, agent_id, customer_id, number, queue, requested_at,"
        " expires_at, status, attempts, closed_at)"
        " SELECT 'demo-0-0', $1, id, $2, 'support', now() - interval '10 minutes',"
        " now() + interval '50 minutes', $3, $4, CASE WHEN $3 = 'pending' THEN NULL ELSE now() END"
        " FROM customers WHERE name = 'Ivan Petrov' RETURNING id",
        agent2, IVAN, status, 0 if status == "pending" else 3,
    )  # fmt: skip
    return int(callback)


async def agent_page(browser: Browser) -> str:
    return await (await browser.session.get(f"{browser.base}/agent/")).text()


def callbacks_section(page: str) -> str:
    return page.split('<section id="callbacks"', 1)[1].split("</section>", 1)[0]


async def call_now(browser: Browser, callback: int, csrf: str | None) -> int:
    data = {"csrf_token": csrf} if csrf is not None else {}
    response = await browser.session.post(
        f"{browser.base}/agent/callbacks/{callback}/call-now", data=data,
        headers={"Origin": browser.base}, allow_redirects=False,
    )  # fmt: skip
    return response.status


async def test_the_owning_agent_sees_the_callback_and_asks_for_it_now(
    web: WebApp, browsers: Callable[[], Browser]
) -> None:
    callback = await owe_ivan(web)
    agent2, agent1 = browsers(), browsers()
    assert await agent2.sign_in("agent", "agent2") == 303
    assert await agent1.sign_in("agent", "agent1") == 303

    mine = callbacks_section(await agent_page(agent2))
    assert all(words in mine for words in ("Ivan Petrov", "T-1001", "…6701", "Call now"))
    assert IVAN not in mine  # the last four digits are enough to recognise the caller
    theirs = callbacks_section(await agent_page(agent1))
    assert "Ivan Petrov" not in theirs
    assert '<p class="none">' in theirs  # "nobody waits for your call back", in their language

    assert await call_now(agent1, callback, await agent1.csrf()) == 404  # not agent1's
    assert await call_now(agent2, callback, None) == 403  # a forged form
    assert await call_now(agent2, 999_999, await agent2.csrf()) == 404
    assert await web.pool.fetchval("SELECT call_now_at FROM callbacks") is None
    assert await call_now(agent2, callback, await agent2.csrf()) == 303
    assert await web.pool.fetchval("SELECT call_now_at FROM callbacks") is not None


async def test_a_callback_never_made_is_listed_for_the_supervisors(
    web: WebApp, browsers: Callable[[], Browser]
) -> None:
    await owe_ivan(web, status="failed")
    boss, _ = await signed_in_admin(browsers)
    page = await (await boss.session.get(f"{boss.base}/admin/dashboard")).text()
    table = page.split('<table id="lapsed-callbacks">', 1)[1].split("</table>", 1)[0]
    assert all(words in table for words in ("Ivan Petrov", "agent2", "no answer after 3 tries"))
    agent2 = browsers()
    assert await agent2.sign_in("agent", "agent2") == 303
    assert "Ivan Petrov" not in callbacks_section(await agent_page(agent2))  # no longer owed
