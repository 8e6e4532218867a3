"""Whose address sign-in counts: X-Forwarded-For is believed only from a trusted proxy, and
then only up to the first hop that is not one (real HTTP; the test client's peer is
127.0.0.1). And the two settings reach the web app, checked at start-up."""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from datetime import timedelta
from ipaddress import ip_network

import pytest

from sticky_router.process.cli import web_settings
from sticky_router.process.config import ConfigError, load_config
from sticky_router.web.auth.proxies import client_of
from tests.web.conftest import PASSWORDS, WebApp

LOOPBACK = ip_network("127.0.0.1/32")
OFFICE_PROXY = ip_network("10.0.0.0/8")


async def attempt(web: WebApp, name: str, password: str, forwarded_for: str | None) -> int:
    headers = {"Origin": web.origin}
    if forwarded_for is not None:
        headers["X-Forwarded-For"] = forwarded_for
    response = await web.client.post(
        "/agent/sign-in",
        data={"name": name, "password": password},
        headers=headers,
        allow_redirects=False,
    )
    return response.status


@pytest.mark.integration
async def test_a_forged_forwarded_for_from_an_untrusted_peer_does_not_change_the_count(
    make_web: Callable[..., Awaitable[WebApp]],
) -> None:
    web = await make_web(sign_in_failures_per_address=3)
    for n in range(3):
        assert await attempt(web, f"user{n}", "guess", f"198.51.100.{n}") == 401
    # A fresh "address" for every guess would be a fresh limit: it is the peer that counts.
    assert await attempt(web, "agent1", PASSWORDS["agent1"], "198.51.100.99") == 429
    assert await web.pool.fetchval("SELECT count(*) FROM web_sessions") == 0


@pytest.mark.integration
async def test_behind_a_trusted_proxy_each_client_has_its_own_count(
    make_web: Callable[..., Awaitable[WebApp]],
) -> None:
    web = await make_web(sign_in_failures_per_address=3, trusted_proxies=(LOOPBACK,))
    for n in range(3):
        assert await attempt(web, f"user{n}", "guess", "203.0.113.5") == 401
    assert await attempt(web, "user9", "guess", "203.0.113.5") == 429
    # The guesser's neighbour behind the same proxy is not locked out with them.
    assert await attempt(web, "agent1", PASSWORDS["agent1"], "198.51.100.7") == 303


@pytest.mark.integration
async def test_the_right_most_untrusted_hop_is_the_client_whatever_the_client_wrote(
    make_web: Callable[..., Awaitable[WebApp]],
) -> None:
    web = await make_web(sign_in_failures_per_address=3, trusted_proxies=(LOOPBACK, OFFICE_PROXY))
    # The client wrote "198.51.100.7, 10.9.9.9" itself; the edge proxy appended the client's
    # real address, an inner proxy (10.1.2.3) appended the edge's.
    for n in range(3):
        chain = f"198.51.100.{n}, 10.9.9.9, 203.0.113.5, 10.1.2.3"
        assert await attempt(web, f"user{n}", "guess", chain) == 401
    assert await attempt(web, "agent1", PASSWORDS["agent1"], "203.0.113.5") == 429
    assert await attempt(web, "agent1", PASSWORDS["agent1"], "198.51.100.0") == 303


@pytest.fixture
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("STICKY_"):
            monkeypatch.delenv(name)


@pytest.mark.usefixtures("clean_environment")
def test_trusted_proxies_and_the_access_window_reach_the_web_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    defaults = web_settings(load_config())
    assert defaults is not None
    assert defaults.trusted_proxies == ()  # nobody's X-Forwarded-For is believed
    assert defaults.agent_access == timedelta(hours=4)
    monkeypatch.setenv("STICKY_WEB_TRUSTED_PROXIES", " 10.0.0.0/8, 192.168.1.10,2001:db8::/32 ")
    monkeypatch.setenv("STICKY_AGENT_ACCESS_HOURS", "2")
    settings = web_settings(load_config())
    assert settings is not None
    assert settings.trusted_proxies == (
        ip_network("10.0.0.0/8"),
        ip_network("192.168.1.10/32"),
        ip_network("2001:db8::/32"),
    )
    assert settings.agent_access == timedelta(hours=2)


@pytest.mark.usefixtures("clean_environment")
@pytest.mark.parametrize(
    "value", ["10.0.0.300/8", "10.0.0.1/8", "proxy.example.com", "10.0.0.0/33"]
)
def test_a_bad_trusted_proxy_stops_start_up_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("STICKY_WEB_TRUSTED_PROXIES", f"127.0.0.1,{value}")
    with pytest.raises(ConfigError, match="STICKY_WEB_TRUSTED_PROXIES") as refused:
        load_config()
    assert value in str(refused.value)


@pytest.mark.parametrize(
    ("peer", "forwarded_for", "client"),
    [
        ("203.0.113.9", "198.51.100.1", "203.0.113.9"),  # untrusted peer: header ignored
        ("127.0.0.1", None, "127.0.0.1"),  # trusted peer, no header: the peer
        ("127.0.0.1", "198.51.100.1:5678", "198.51.100.1"),  # a proxy that adds the port
        ("127.0.0.1", "[2001:db8::7]:443", "2001:db8::7"),
        ("127.0.0.1", "evil, 198.51.100.1", "198.51.100.1"),  # the left is never read
        ("127.0.0.1", "198.51.100.1, not-an-address", "127.0.0.1"),  # garbled hop: the proxy
        ("127.0.0.1", "10.0.0.1, 10.0.0.2", "10.0.0.1"),  # all trusted: the farthest
    ],
)
def test_the_client_is_the_right_most_hop_not_a_trusted_proxy(
    peer: str, forwarded_for: str | None, client: str
) -> None:
    assert client_of(peer, forwarded_for, (LOOPBACK, OFFICE_PROXY)) == client
