"""Who may talk to the FastAGI server: the allow-list and the secret (agi.peers)."""

from __future__ import annotations

import pytest

from sticky_router.agi.peers import BadPeerPolicy, PeerPolicy, parse_networks

SECRET = "s3cret-for-unit-tests"


def test_addresses_on_the_list_are_allowed_and_others_not() -> None:
    peers = PeerPolicy.of("10.0.0.5, 10.1.0.0/16, ::1", SECRET)
    assert peers.address_allowed("10.0.0.5")
    assert peers.address_allowed("10.1.200.7")
    assert peers.address_allowed("::1")
    assert peers.address_allowed("::ffff:10.0.0.5")  # a dual-stack listener's view of it
    for other in ("10.0.0.6", "127.0.0.1", "", "not-an-address", "fe80::1%eth0"):
        assert not peers.address_allowed(other), other


def test_the_secret_must_be_in_the_script_url_exactly() -> None:
    peers = PeerPolicy.of("127.0.0.1", SECRET)
    assert peers.secret_matches(f"lookup?secret={SECRET}")
    for path in ("lookup", "lookup?secret=", f"lookup?secret={SECRET}x",
                 f"lookup?secret={SECRET[:-1]}", f"lookup?secret={SECRET}&secret={SECRET}",
                 f"lookup?other={SECRET}"):  # fmt: skip
        assert not peers.secret_matches(path), path


@pytest.mark.parametrize("secret", ["", "short", "has,a comma-0123456", "ünïcode-0123456789"])
def test_a_weak_or_unsafe_secret_is_refused_without_echoing_it(secret: str) -> None:
    with pytest.raises(BadPeerPolicy) as refused:
        PeerPolicy.of("127.0.0.1", secret)
    assert not secret or secret not in str(refused.value)


@pytest.mark.parametrize("text", ["", " , ", "10.0.0.300", "host.example.com", "10.0.0.0/33"])
def test_an_unusable_allow_list_is_refused(text: str) -> None:
    with pytest.raises(BadPeerPolicy):
        parse_networks(text)


def test_the_secret_never_shows_in_a_repr() -> None:
    assert SECRET not in repr(PeerPolicy.of("127.0.0.1", SECRET))
