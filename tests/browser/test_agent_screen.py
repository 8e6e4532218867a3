"""Real calls, real pops: SIPp calls through Asterisk 22, the router routes them, and the agent
whose phone rings sees the caller's context in headless Chromium.

Demo callers (devkit/demo.py): Ivan (+79123456701, account 100201, ticket T-1001) last
spoke with agent2 (English) 42 minutes ago; Sergey (+79123456703) spoke with agent2 3 hours
ago, outside the window, so his call goes to the queue, which rings every agent (agent1 works in
Russian). Screenshots go to artifacts/browser/.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from playwright.async_api import Browser, BrowserContext, Page

from devkit.sandbox.asterisk import LocalAsterisk
from sticky_router.process.router import Router
from sticky_router.routing_core.settings import Scope
from sticky_router.routing_core.store.settings_store import set_setting
from testkit.sip_log import received
from testkit.sipp import SippPhone, SippResult, assert_calls_succeeded
from tests.browser.conftest import open_screen
from tests.e2e.phones import AgentPhones, call

IVAN = "79123456701"
SERGEY = "79123456703"
UNKNOWN = "79990000001"
POP = "article.pop"
# Generous: the target is 300 ms (bench/pop_latency.py measures it); this only catches a pop
# that came from somewhere slow (a reconnect, a poll) instead of the push.
POP_DEADLINE_MS = 2000

pytestmark = pytest.mark.usefixtures("fresh")


def in_background(work: Coroutine[Any, Any, SippResult]) -> asyncio.Task[SippResult]:
    return asyncio.get_running_loop().create_task(work)


def ivr_caller(asterisk: LocalAsterisk, logs: Path, account: str, hold_ms: int) -> SippPhone:
    """An unknown number that keys `account` into the sandbox's IVR example."""
    caller = SippPhone.caller(
        "uac_ivr.xml", asterisk, logs, dialled="ivr", caller_id=UNKNOWN, hold_ms=hold_ms,
        timeout_s=60, name="caller",
    )  # fmt: skip
    caller.arguments += ["-key", "dtmf", f"{account}#"]
    return caller


async def pop_latency_ms(page: Page, phones: AgentPhones, agent: str, logs: Path) -> float:
    """From the agent phone receiving the INVITE (SIPp's clock) to the pop on the page
    (Chromium's clock; the same machine)."""
    shown_ms = float(await page.get_attribute(POP, "data-shown-at") or 0)
    invites = received(logs / f"{agent}.messages.log")
    assert invites, f"{agent}'s phone got no INVITE"
    return shown_ms - invites[0].at.timestamp() * 1000


async def rings(messages_log: Path, seconds: float = 20) -> None:
    """Until the phone has received its INVITE (SIPp writes its log as it goes)."""
    async with asyncio.timeout(seconds):
        while not received(messages_log):  # noqa: ASYNC110 - a file, not an event
            await asyncio.sleep(0.05)


async def text(page: Page, selector: str) -> str:
    return (await page.text_content(selector) or "").strip()


async def test_callback_pops_on_the_right_agents_screen_and_the_note_comes_back_next_time(
    chromium: Browser,
    contexts: list[BrowserContext],
    base_url: str,
    asterisk: LocalAsterisk,
    phone_logs: Path,
    artifacts: Path,
) -> None:
    agent2 = await open_screen(chromium, contexts, base_url, "agent2")
    agent1 = await open_screen(chromium, contexts, base_url, "agent1")
    first_logs = phone_logs / "first"
    with AgentPhones(
        asterisk, first_logs, {"agent2": "uas_answer.xml"}, ring_ms={"agent2": 1500}
    ) as phones:
        caller = in_background(
            asyncio.to_thread(ivr_caller(asterisk, first_logs, "100201", 6000).run)
        )
        await agent2.wait_for_selector(POP, timeout=20_000)
        latency = await pop_latency_ms(agent2, phones, "agent2", first_logs)
        print(f"\npop latency, sticky callback (INVITE at agent2 -> pop): {latency:.0f} ms")
        assert (await text(agent2, '[data-role="why"]')).startswith(
            "You spoke with them 42 min ago"
        )
        assert await text(agent2, '[data-role="caller-name"]') == "Ivan Petrov"
        assert "account 100201" in await text(agent2, '[data-role="keyed"]')
        ticket = await text(agent2, '[data-role="ticket"]')
        assert "T-1001" in ticket
        assert "No internet since morning" in ticket
        assert "PPPoE authentication failures" in ticket
        assert "Boris Ivanov" in await text(agent2, '[data-role="past-call"]')
        await agent2.screenshot(path=str(artifacts / "pop-sticky-agent2.png"), full_page=True)
        await agent2.fill(
            "form.note textarea", "Modem replaced; line stable. Check speed on callback."
        )
        await agent2.click("form.note button")
        await agent2.wait_for_selector('[data-role="action-status"]:has-text("Saved")')
        assert_calls_succeeded(await caller)
    assert await agent1.locator(POP).count() == 0, "agent1's phone did not ring: no pop"
    assert 0 < latency < POP_DEADLINE_MS

    # Ivan calls back from his own number: agent2 again, and the note is on the pop.
    await agent2.reload()
    await agent2.wait_for_selector('#link-state[data-state="up"]')
    second_logs = phone_logs / "second"
    with AgentPhones(asterisk, second_logs, {"agent2": "uas_answer.xml"}, ring_ms={"agent2": 1500}):
        caller = in_background(call(asterisk, second_logs, caller_id=IVAN, hold_ms=2000))
        await agent2.wait_for_selector(POP, timeout=20_000)
        notes = await text(agent2, '[data-role="past-call"] [data-role="note"]')
        assert "Modem replaced; line stable. Check speed on callback." in notes
        await agent2.screenshot(path=str(artifacts / "pop-callback-with-note.png"), full_page=True)
        assert_calls_succeeded(await caller)


async def test_hostile_ticket_text_is_shown_literally_and_runs_nothing(
    chromium: Browser,
    contexts: list[BrowserContext],
    base_url: str,
    asterisk: LocalAsterisk,
    pool: asyncpg.Pool,
    phone_logs: Path,
    artifacts: Path,
) -> None:
    hostile = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>'
    await pool.execute(
        "UPDATE tickets SET subject = $1, last_faults = $2 WHERE external_id = 'T-1001'",
        hostile,
        "<b onmouseover=alert(1)>faults</b>",
    )
    await pool.execute(
        "UPDATE customers SET name = $1 WHERE account_number = '100201'",
        "Ivan <svg onload=window.__pwned=3>",
    )
    agent2 = await open_screen(chromium, contexts, base_url, "agent2")
    agent1 = await open_screen(chromium, contexts, base_url, "agent1")
    dialogs: list[str] = []
    agent2.on("dialog", lambda dialog: dialogs.append(dialog.message))
    with AgentPhones(asterisk, phone_logs, {"agent2": "uas_answer.xml"}, ring_ms={"agent2": 1000}):
        caller = in_background(call(asterisk, phone_logs, caller_id=IVAN, hold_ms=3000))
        await agent2.wait_for_selector(POP, timeout=20_000)
        call_id = await agent2.get_attribute(POP, "data-call-id")
        assert await text(agent2, ".ticket .subject") == hostile
        assert (
            await text(agent2, '[data-role="caller-name"]') == "Ivan <svg onload=window.__pwned=3>"
        )
        assert await agent2.locator(f"{POP} img, {POP} script, {POP} svg, {POP} b").count() == 0
        await agent2.hover(".ticket")
        await agent2.screenshot(path=str(artifacts / "pop-hostile-text.png"), full_page=True)
        # The other agent's browser cannot read this call's pop, nor write on it.
        fetched = await agent1.evaluate(
            """async (callId) => {
                const csrf = document.querySelector('meta[name="csrf-token"]').content;
                const read = await fetch(`/api/calls/${encodeURIComponent(callId)}/pop`);
                const write = await fetch(`/api/calls/${encodeURIComponent(callId)}/note`, {
                    method: "POST", body: JSON.stringify({text: "x"}),
                    headers: {"Content-Type": "application/json", "X-CSRF-Token": csrf}});
                return [read.status, write.status];
            }""",
            call_id,
        )
        assert fetched == [404, 404]
        assert_calls_succeeded(await caller)
    assert await agent2.evaluate("window.__pwned") is None
    assert dialogs == []
    assert await agent1.locator(POP).count() == 0


async def test_queue_call_pops_in_russian_and_phones_show_the_ticket_in_the_caller_name(
    chromium: Browser,
    contexts: list[BrowserContext],
    base_url: str,
    asterisk: LocalAsterisk,
    pool: asyncpg.Pool,
    phone_logs: Path,
    artifacts: Path,
) -> None:
    await set_setting(
        pool, scope=Scope.GLOBAL, scope_value=None, key="callerid_name_prefix", value=True,
        actor="test",
    )  # fmt: skip
    sergey = await pool.fetchval("SELECT id FROM customers WHERE account_number = '100203'")
    await pool.execute(
        "INSERT INTO tickets (external_id, customer_id, subject, status, promised_by) "
        "VALUES ('T-1003', $1, 'Нет ТВ-каналов', 'open', now() - interval '3 hours')",
        sergey,
    )
    await pool.execute(
        "INSERT INTO do_not_pair (customer_id, agent_id, kind, reason, requested_by) "
        "SELECT $1, id, 'abuse', 'insults', 'agent4' FROM agents WHERE name = 'agent4'",
        sergey,
    )
    agent1 = await open_screen(chromium, contexts, base_url, "agent1")
    queue_logs = phone_logs / "queue"
    with AgentPhones(
        asterisk, queue_logs, {"agent1": "uas_answer.xml"}, ring_ms={"agent1": 1500}
    ) as phones:
        caller = in_background(call(asterisk, queue_logs, caller_id=SERGEY, hold_ms=3000))
        await agent1.wait_for_selector(POP, timeout=20_000)
        latency = await pop_latency_ms(agent1, phones, "agent1", queue_logs)
        print(f"\npop latency, queue call (INVITE at agent1 -> pop in Chromium): {latency:.0f} ms")
        why = await text(agent1, '[data-role="why"]')
        assert why.startswith("Из очереди"), why
        assert "последний разговор был слишком давно" in why
        assert await text(agent1, '[data-role="caller-name"]') == "Sergey Volkov"
        assert "Прошлые звонки" in await text(agent1, "section.history")
        assert await text(agent1, '[data-role="overdue"]') == "Обещание просрочено"
        assert await text(agent1, '[data-role="marks"]') == (
            "Жалоба на агрессию (на проверке) в адрес Dmitry Sokolov: Оскорбления или мат"
        )
        await agent1.screenshot(path=str(artifacts / "pop-queue-agent1-ru.png"), full_page=True)
        assert_calls_succeeded(await caller)
    assert 0 < latency < POP_DEADLINE_MS
    names = {r.from_display_name for r in received(queue_logs / "agent1.messages.log")}
    assert names == {"[T-1003] Sergey Volkov"}  # through sticky-queue's Set(CALLERID(name))

    sticky_logs = phone_logs / "sticky"
    with AgentPhones(asterisk, sticky_logs, {"agent2": "uas_answer.xml"}):
        assert_calls_succeeded(await call(asterisk, sticky_logs, caller_id=IVAN, hold_ms=1000))
    names = {r.from_display_name for r in received(sticky_logs / "agent2.messages.log")}
    assert names == {"[T-1001] Ivan Petrov"}
    # The caller is never told about the ticket: nothing of it in any message they received.
    assert "T-1001" not in (sticky_logs / "caller.messages.log").read_text(errors="replace")


async def test_screen_reconnects_by_itself_and_shows_a_pop_it_missed_meanwhile(
    chromium: Browser,
    contexts: list[BrowserContext],
    base_url: str,
    router: Router,
    asterisk: LocalAsterisk,
    phone_logs: Path,
) -> None:
    agent2 = await open_screen(chromium, contexts, base_url, "agent2")
    await router.stop_web()
    await agent2.wait_for_selector('#link-state[data-state="down"]', timeout=10_000)
    with AgentPhones(asterisk, phone_logs, {"agent2": "uas_answer.xml"}, ring_ms={"agent2": 2500}):
        caller = in_background(call(asterisk, phone_logs, caller_id=IVAN, hold_ms=8000))
        await rings(phone_logs / "agent2.messages.log")  # it rings while the screen is away
        await router.start_web()
        await agent2.wait_for_selector('#link-state[data-state="up"]', timeout=15_000)
        await agent2.wait_for_selector(POP, timeout=5_000)
        assert await text(agent2, '[data-role="caller-name"]') == "Ivan Petrov"
        assert_calls_succeeded(await caller)

    # And the next pop comes over the new socket, pushed as usual.
    await agent2.evaluate("document.querySelectorAll('article.pop').forEach(p => p.remove())")
    again = phone_logs / "again"
    with AgentPhones(asterisk, again, {"agent2": "uas_answer.xml"}, ring_ms={"agent2": 1000}):
        caller = in_background(call(asterisk, again, caller_id=IVAN, hold_ms=2000))
        await agent2.wait_for_selector(POP, timeout=20_000)
        assert_calls_succeeded(await caller)


async def test_the_colleague_a_sticky_call_is_handed_to_sees_who_handed_it_over(
    chromium: Browser,
    contexts: list[BrowserContext],
    base_url: str,
    asterisk: LocalAsterisk,
    phone_logs: Path,
    artifacts: Path,
) -> None:
    """Ivan's callback reaches agent2, who hands him to specialist agent3 (SIP REFER). agent3's
    screen (Russian) pops with the caller and who transferred him; the caller stays on."""
    agent3 = await open_screen(chromium, contexts, base_url, "agent3")
    refer_to = ["-key", "refer_to", f"sip:agent3@127.0.0.1:{asterisk.sip_port}"]
    scenarios = {"agent2": "uas_blind_transfer.xml", "agent3": "uas_answer.xml"}
    with AgentPhones(asterisk, phone_logs, scenarios, extra_args={"agent2": refer_to}):
        caller = in_background(call(asterisk, phone_logs, caller_id=IVAN, hold_ms=7000))
        await agent3.wait_for_selector(POP, timeout=20_000)
        why = agent3.locator('[data-role="why"]')
        assert await why.get_attribute("class") == "why why-transfer"
        assert (await why.text_content() or "").startswith("Вам перевёл Boris")
        assert await text(agent3, '[data-role="caller-name"]') == "Ivan Petrov"
        await agent3.screenshot(path=str(artifacts / "pop-transfer-agent3.png"), full_page=True)
        assert_calls_succeeded(await caller)
