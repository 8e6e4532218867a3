"""Attacks on sign-in over real HTTP on a real PostgreSQL: racing the limit with parallel
attempts, locking the rightful owner out, and stalling the server with argon2."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import aiohttp
import pytest

from sticky_router.web.auth.passwords import verify_password
from sticky_router.web.auth.sessions import COOKIE_NAMES
from tests.web.conftest import PASSWORDS, Browser, WebApp

pytestmark = pytest.mark.integration


async def attempt(web: WebApp, name: str, password: str) -> aiohttp.ClientResponse:
    response = await web.client.post(
        "/agent/sign-in",
        data={"name": name, "password": password},
        headers={"Origin": web.origin},
        allow_redirects=False,
    )
    await response.read()
    return response


async def sessions(web: WebApp) -> int:
    return int(await web.pool.fetchval("SELECT count(*) FROM web_sessions"))


async def test_parallel_wrong_passwords_for_one_account_are_counted_before_any_is_checked(
    web: WebApp,
) -> None:
    """20 guesses sent at once: only the account's free attempts reach argon2 (401), the rest
    are refused at once (429) - the check and the count are one step."""
    answers = await asyncio.gather(*(attempt(web, "agent1", f"guess-{n}") for n in range(20)))
    statuses = sorted(answer.status for answer in answers)
    assert statuses.count(401) == 5  # sign_in_failures_per_account
    assert statuses.count(429) == 15
    assert all(int(a.headers["Retry-After"]) >= 1 for a in answers if a.status == 429)
    assert await sessions(web) == 0


async def test_parallel_guesses_over_many_accounts_from_one_address_hit_the_hard_limit(
    make_web: Callable[..., Awaitable[WebApp]],
) -> None:
    web = await make_web(sign_in_failures_per_address=3)
    answers = await asyncio.gather(*(attempt(web, f"user{n}", "guess") for n in range(10)))
    statuses = sorted(answer.status for answer in answers)
    assert statuses == [401] * 3 + [429] * 7
    # A hard limit: the right password from that address is refused too, and no session made.
    assert (await attempt(web, "agent1", PASSWORDS["agent1"])).status == 429
    assert await sessions(web) == 0


async def test_an_attacker_cannot_keep_the_owner_out_the_owner_waits_seconds_then_gets_in(
    web: WebApp,
) -> None:
    for n in range(5):
        assert (await attempt(web, "agent1", f"guess-{n}")).status == 401
    refused = await attempt(web, "agent1", PASSWORDS["agent1"])
    assert refused.status == 429  # a delay, not a lockout: seconds, not the window
    wait = int(refused.headers["Retry-After"])
    assert 1 <= wait <= 2
    # Hammering while the delay runs is refused without growing it.
    for n in range(30):
        assert (await attempt(web, "agent1", f"hammer-{n}")).status == 429
    await asyncio.sleep(wait)
    owner = await attempt(web, "agent1", PASSWORDS["agent1"])
    assert owner.status == 303
    assert COOKIE_NAMES["agent"] in owner.cookies
    assert await sessions(web) == 1
    # Success clears the account: the next mistype costs no delay.
    assert (await attempt(web, "agent1", "typo")).status == 401


async def test_each_further_failure_doubles_the_delay_but_never_beyond_the_cap(
    make_web: Callable[..., Awaitable[WebApp]],
) -> None:
    web = await make_web(sign_in_failures_per_account=1, sign_in_delay_cap_seconds=2.0)
    delays = []
    for n in range(4):
        assert (await attempt(web, "agent2", f"guess-{n}")).status == 401
        refused = await attempt(web, "agent2", f"again-{n}")
        assert refused.status == 429
        delays.append(int(refused.headers["Retry-After"]))
        await asyncio.sleep(delays[-1])
    assert delays == [1, 2, 2, 2]  # 1 s, doubled, then capped
    assert (await attempt(web, "agent2", PASSWORDS["agent2"])).status == 303


async def test_a_browser_the_owner_signed_in_from_is_not_slowed_by_someone_elses_guesses(
    web: WebApp, browsers: Callable[[], Browser]
) -> None:
    """An attacker who guesses at the same instant the delay ends could always win the race
    against the owner's retry; the owner's own browser (it signed in before) is exempt."""
    owner = browsers()
    assert await owner.sign_in("agent", "agent1") == 303
    for n in range(5):
        assert (await attempt(web, "agent1", f"guess-{n}")).status == 401
    assert (await attempt(web, "agent1", PASSWORDS["agent1"])).status == 429
    assert await owner.sign_in("agent", "agent1") == 303
    # The exemption is the owner's browser only, and it does not help guessing there either.
    for n in range(5):
        assert await owner.sign_in("agent", "agent1", f"owner-typo-{n}") == 401
    assert await owner.sign_in("agent", "agent1") == 429


async def test_sign_in_checks_passwords_off_the_event_loop(web: WebApp) -> None:
    """argon2 takes tens of milliseconds of CPU: the loop keeps ticking while sign-ins are
    checked (in worker threads), where an on-loop check would stall it for that long."""
    started = time.perf_counter()
    verify_password(None, "calibration")
    one_check = time.perf_counter() - started
    gaps: list[float] = []
    stop = asyncio.Event()

    async def ticker() -> None:
        last = time.perf_counter()
        while not stop.is_set():
            await asyncio.sleep(0.001)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    ticking = asyncio.ensure_future(ticker())
    answers = await asyncio.gather(*(attempt(web, f"user{n}", "guess") for n in range(4)))
    stop.set()
    await ticking
    assert [answer.status for answer in answers] == [401] * 4
    assert max(gaps) < one_check * 0.75, (max(gaps), one_check)


async def test_sign_ins_beyond_the_argon2_queue_are_refused_at_once(
    make_web: Callable[..., Awaitable[WebApp]],
) -> None:
    """The app's PasswordChecks caps how many argon2 checks run and wait; sign-in uses it."""
    web = await make_web(sign_in_failures_per_address=100)
    answers = await asyncio.gather(*(attempt(web, f"user{n}", "guess") for n in range(30)))
    statuses = sorted(answer.status for answer in answers)
    # 2 checking and 16 waiting at most (web.passwords.PasswordChecks' defaults).
    assert statuses.count(401) >= 18
    busy = [a for a in answers if a.status == 429]
    assert busy, "30 at once must overflow 2 running + 16 waiting"
    assert all(a.headers["Retry-After"] == "1" for a in busy)
