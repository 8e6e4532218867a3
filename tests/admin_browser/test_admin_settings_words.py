"""A Russian-speaking supervisor picks the announcement from the prompts the real Asterisk has
(ARI's sound list, in the page's own picker) and the next sticky callback hears it (issue 22)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from playwright.async_api import Page

from devkit.sandbox.asterisk import LocalAsterisk
from sticky_router.process.router import Router
from testkit.sipp import assert_calls_succeeded
from tests.admin_browser.conftest import ADMIN
from tests.admin_browser.test_admin_window import IVAN, newest_call
from tests.e2e.phones import AgentPhones, call

pytestmark = pytest.mark.usefixtures("fresh")


@pytest.fixture
async def russian(pool: asyncpg.Pool, admin_page: Page) -> AsyncIterator[Page]:
    await pool.execute("UPDATE admin_users SET language = 'ru' WHERE name = $1", ADMIN)
    yield admin_page
    await pool.execute("UPDATE admin_users SET language = 'en' WHERE name = $1", ADMIN)


async def test_the_announcement_is_picked_from_asterisks_prompts_and_played(
    router: Router,
    russian: Page,
    base_url: str,
    asterisk: LocalAsterisk,
    pool: asyncpg.Pool,
    phone_logs: Path,
    artifacts: Path,
) -> None:
    page = russian
    sound = page.locator("#setting-announce_sound")
    options = sound.locator("select[name=value] option")
    # Without the product's prompts the picker says the default is missing, not hides it ...
    await asyncio.to_thread(asterisk.remove_prompts)
    await page.goto(f"{base_url}/admin/settings")
    assert "Запись сообщения" in await sound.locator("h2").inner_text()
    missing = await options.all_inner_texts()
    assert missing[0] == "sticky-router/connecting-to-your-agent (нет на Asterisk)"
    assert {"beep", "tt-monkeys", "digits/1"} <= set(missing)
    assert len(missing) > 100  # Asterisk's own English prompts
    # ... and once they are made (`sticky-router prompts`), it lists them as Asterisk has them.
    await asyncio.to_thread(asterisk.install_prompts)
    try:
        await page.goto(f"{base_url}/admin/settings")
        present = await options.all_inner_texts()
    finally:
        await asyncio.to_thread(asterisk.remove_prompts)  # other tests' calls stay silent
    assert "sticky-router/connecting-to-your-agent" in present
    assert "sticky-router/press-1-to-wait" in present
    assert not [o for o in present if "нет на Asterisk" in o]
    await sound.locator("select[name=value]").select_option("beep")
    await sound.locator("button[value=save]").click()
    await page.wait_for_selector("#saved")
    saved = await page.locator("#saved").inner_text()
    assert saved == (
        "Сохранено: Запись сообщения = beep для всех звонков. Действует со следующего звонка."
    )
    await page.screenshot(path=str(artifacts / "settings-ru-sound.png"), full_page=True)
    in_force = await page.locator("#setting-announce_sound .in-force").inner_text()
    assert in_force == "Действует: beep (задано здесь)"

    log = asterisk.log_file
    start = log.stat().st_size
    logs = phone_logs / "announce-beep"
    with AgentPhones(asterisk, logs, {"agent2": "uas_answer.xml"}) as phones:
        assert_calls_succeeded(await call(asterisk, logs, caller_id=IVAN, hold_ms=1500))
    assert phones.rung() == {"agent1": 0, "agent2": 1, "agent3": 0, "agent4": 0}
    row = await newest_call(pool)
    assert (row["route"], row["outcome"]) == ("sticky", "sticky")
    with log.open("rb") as lines:
        lines.seek(start)
        heard = lines.read().decode(errors="replace")
    assert "Playing 'beep." in heard, heard[-3000:]
