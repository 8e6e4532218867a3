"""The abuse workflow in the browser, to the call: agent2 flagged Ivan for abuse, a supervisor
blocks him from the flags page (to the supervisors' queue, for a week), and Ivan's next call
rings only the supervisor on duty (agent4), never agent2; lifted, it is sticky to agent2 again."""

from __future__ import annotations

from pathlib import Path

import asyncpg
import pytest
from playwright.async_api import Page

from devkit.sandbox.asterisk import LocalAsterisk
from sticky_router.process.router import Router
from testkit.sipp import assert_calls_succeeded
from tests.admin_browser.test_admin_window import IVAN, newest_call
from tests.e2e.phones import AgentPhones, call

pytestmark = pytest.mark.usefixtures("fresh")


async def test_a_caller_blocked_from_the_flags_page_reaches_only_the_supervisors(
    router: Router,
    admin_page: Page,
    base_url: str,
    asterisk: LocalAsterisk,
    pool: asyncpg.Pool,
    phone_logs: Path,
    artifacts: Path,
) -> None:
    flag_id = await pool.fetchval(
        "INSERT INTO do_not_pair (customer_id, e164, agent_id, kind, reason, requested_by)"
        " SELECT p.customer_id, p.e164, a.id, 'abuse', 'threatened the agent', 'agent2'"
        " FROM phone_numbers p, agents a WHERE p.e164 = $1 AND a.name = 'agent2' RETURNING id",
        "+" + IVAN,
    )
    page = admin_page

    await page.goto(f"{base_url}/admin/flags")
    form = page.locator(f"#pending form[data-block-flag='{flag_id}']")
    await form.locator("select[name=destination_kind]").select_option("queue")
    await form.locator("input[name=destination]").fill("supervisors")
    await form.locator("button[type=submit]").click()
    await page.wait_for_selector("#reviewed")
    await page.screenshot(path=str(artifacts / "flags-caller-blocked.png"), full_page=True)
    blocked_row = page.locator("#blocks tr", has_text="+" + IVAN)
    assert "supervisors" in await blocked_row.inner_text()

    blocked = phone_logs / "blocked"
    answering = {"agent2": "uas_answer.xml", "agent4": "uas_answer.xml"}
    with AgentPhones(asterisk, blocked, answering) as phones:
        assert_calls_succeeded(await call(asterisk, blocked, caller_id=IVAN, hold_ms=1500))
    assert phones.rung() == {"agent1": 0, "agent2": 0, "agent3": 0, "agent4": 1}
    row = await newest_call(pool)
    assert row["route"] == "blocked"

    await blocked_row.locator("button[type=submit]").click()
    await page.wait_for_selector("#reviewed")
    assert await page.locator("#blocks tr", has_text="+" + IVAN).count() == 0
    lifted = phone_logs / "lifted"
    with AgentPhones(asterisk, lifted, {"agent2": "uas_answer.xml"}) as phones:
        assert_calls_succeeded(await call(asterisk, lifted, caller_id=IVAN, hold_ms=1500))
    assert phones.rung() == {"agent1": 0, "agent2": 1, "agent3": 0, "agent4": 0}
    row = await newest_call(pool)
    assert (row["route"], row["outcome"]) == ("sticky", "sticky")
