"""Redmine as the ticket source, end to end: Redmine 5 from Debian's packages, Asterisk 22, SIPp
phones, the router with STICKY_TICKET_SOURCE=redmine and its web server, agent3's screen in
headless Chromium.

Ivan (+79123456701) last spoke with agent2 (the demo); in Redmine his open issue is assigned to
agent3, and so is Sergey's (+79123456703). Under "owner wins" their calls ring agent3, agent3's
pop shows the issue with its link into Redmine, and each call leaves one journal note on its
issue, written as agent3. Redmine stopped in the middle of Ivan's call, and still stopped for
Sergey's, changes nothing for them: the mirror routes, the pop says the ticket system is
unavailable (Ivan's issue would come from the pop's 30 s cache), and the notes arrive once
Redmine is back.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path

import asyncpg
import pytest
from playwright.async_api import Browser, BrowserContext, Page

from devkit.sandbox.asterisk import LocalAsterisk
from devkit.sandbox.asterisk_config import AGENTS
from devkit.sandbox.redmine import LocalRedmine, throwaway_redmine
from devkit.sandbox.redmine_desk import SupportDesk, seed_support_desk
from sticky_router.process.router import Router
from sticky_router.process.ticket_source import TicketSourceSettings
from sticky_router.tickets_redmine.settings import RedmineSettings
from testkit.sipp import assert_calls_succeeded
from testkit.waiting import eventually
from tests.browser.conftest import open_screen
from tests.e2e.phones import AgentPhones, call
from tests.e2e.records import settled
from tests.e2e.replacement import owner_wins_from_an_empty_mirror, replacing

IVAN = "79123456701"
SERGEY = "79123456703"
POP = "article.pop"


@pytest.fixture(scope="module")
def redmine() -> Iterator[LocalRedmine]:
    with throwaway_redmine() as server:
        yield server


@pytest.fixture(scope="module")
def desk(redmine: LocalRedmine) -> SupportDesk:
    return seed_support_desk(redmine, AGENTS)


@pytest.fixture
async def redmine_router(
    fresh: object, router: Router, pool: asyncpg.Pool, redmine: LocalRedmine
) -> AsyncIterator[Router]:
    """A router reading Redmine in place of the suite's, on the same web port."""
    del fresh
    await owner_wins_from_an_empty_mirror(pool, "browser")
    tickets = TicketSourceSettings(
        url=redmine.url, token=redmine.api_key, kind="redmine",
        redmine=RedmineSettings(url=redmine.url, api_key=redmine.api_key),
        sync_interval_seconds=0.5, report_delay=timedelta(0),
        report_retry_first=timedelta(seconds=1),
    )  # fmt: skip
    async with replacing(router, dataclasses.replace(router.settings, tickets=tickets)) as replaced:
        yield replaced


async def text(page: Page, selector: str) -> str:
    return (await page.text_content(selector) or "").strip()


async def test_a_redmine_issue_routes_pops_and_takes_a_note_even_across_a_redmine_outage(
    redmine_router: Router,
    desk: SupportDesk,
    redmine: LocalRedmine,
    chromium: Browser,
    contexts: list[BrowserContext],
    base_url: str,
    asterisk: LocalAsterisk,
    pool: asyncpg.Pool,
    phone_logs: Path,
    artifacts: Path,
) -> None:
    issue = desk.open_issue(
        "No internet since the storm", assignee="agent3", phone="+7 912 345-67-01",
        account="100201", customer="Ivan Petrov", last_faults="PPPoE timeouts at 09:12",
    )  # fmt: skip
    sergeys = desk.open_issue(
        "Wi-Fi drops in the evening", assignee="agent3", phone="89123456703", account="100203"
    )

    async def mirrored() -> bool:
        owners = await pool.fetch(
            "SELECT owner_login FROM ticket_mirror WHERE source = 'redmine' "
            "AND external_id = ANY($1::text[])",
            [str(issue), str(sergeys)],
        )
        return [row["owner_login"] for row in owners] == ["agent3", "agent3"]

    await eventually(mirrored, 15.0, poll=0.2)
    agent3 = await open_screen(chromium, contexts, base_url, "agent3")

    # 1. Redmine up, then stopped while Ivan talks with agent3.
    first_logs = phone_logs / "first"
    with AgentPhones(asterisk, first_logs, {"agent3": "uas_answer.xml"}) as phones:
        talking = asyncio.get_running_loop().create_task(
            call(asterisk, first_logs, caller_id=IVAN, hold_ms=5000)
        )
        await agent3.wait_for_selector(POP, timeout=20_000)
        await agent3.wait_for_selector('[data-role="ticket-link"]', timeout=5_000)
        ticket = await text(agent3, '[data-role="ticket"]')
        assert "No internet since the storm" in ticket
        assert "PPPoE timeouts at 09:12" in ticket
        link = await agent3.get_attribute('[data-role="ticket-link"]', "href")
        assert link == f"{redmine.url}/issues/{issue}"
        await agent3.screenshot(path=str(artifacts / "pop-redmine-issue.png"), full_page=True)
        await asyncio.to_thread(redmine.stop)  # mid-call
        assert_calls_succeeded(await talking)
    assert phones.rung() == {"agent1": 0, "agent2": 0, "agent3": 1, "agent4": 0}
    first = await settled(pool, IVAN)
    assert (first["route"], first["route_reason"], first["ticket_ref"]) == (
        "sticky", "ticket_owner", str(issue)
    )  # fmt: skip

    # 2. Redmine still down: the mirror routes Sergey, the pop says so instead of waiting.
    assert await redmine_router.quiesce(10)
    await agent3.reload()
    await agent3.wait_for_selector('#link-state[data-state="up"]')
    second_logs = phone_logs / "second"
    with AgentPhones(asterisk, second_logs, {"agent3": "uas_answer.xml"}) as phones:
        talking = asyncio.get_running_loop().create_task(
            call(asterisk, second_logs, caller_id=SERGEY, hold_ms=2000)
        )
        await agent3.wait_for_selector(POP, timeout=20_000)
        await agent3.wait_for_selector('[data-role="tickets-unavailable"]', timeout=5_000)
        assert_calls_succeeded(await talking)
    assert phones.rung() == {"agent1": 0, "agent2": 0, "agent3": 1, "agent4": 0}
    second = await settled(pool, SERGEY)
    assert (second["route_reason"], second["ticket_ref"]) == ("ticket_owner", str(sergeys))

    # 3. Redmine back: one note per call, written as agent3, none repeated.
    await asyncio.to_thread(redmine.start)

    async def both_noted() -> bool:
        noted = [await asyncio.to_thread(desk.notes, n) for n in (issue, sergeys)]
        return all(noted)

    await eventually(both_noted, 60, poll=0.2)
    await asyncio.sleep(2)  # a few more report rounds: nothing may be written twice
    for row, noted in ((first, issue), (second, sergeys)):
        notes = await asyncio.to_thread(desk.notes, noted)
        assert [author for author, _ in notes] == ["Agent No 3"]
        text_of_note = notes[0][1]
        assert f"sticky-router call {row['call_id']}" in text_of_note
        assert "Route: sticky (ticket owner)" in text_of_note
