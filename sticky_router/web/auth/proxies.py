"""Who the client is when reverse proxies stand in front of the web app.

X-Forwarded-For is a list anyone can start: a client may send one of its own, and each proxy
appends the address it received the request from. So it is believed only when the TCP peer is a
trusted proxy (STICKY_WEB_TRUSTED_PROXIES), and read from the right: every hop that is itself a
trusted proxy is skipped, and the first one that is not is the client. What a client wrote on
the left of that is never reached. With no trusted proxy (the default) the header is ignored
and the peer is the client, so nobody picks their own rate-limit key.
"""

from __future__ import annotations

from collections.abc import Iterable
from ipaddress import IPv4Address, IPv6Address, ip_address, ip_network

from sticky_router.web.settings import Network

Address = IPv4Address | IPv6Address
MAX_HOPS = 32  # a longer header is not a real proxy chain; the left of it is never read


class BadProxySetting(ValueError):
    """The trusted proxies cannot be read; the message names the part at fault."""


def parse_trusted_proxies(text: str) -> tuple[Network, ...]:
    """`10.0.0.5, 10.0.1.0/24, ::1` -> networks (an address is a network of one); empty: none.
    A network with host bits set (`10.0.0.1/8`) is refused: it is a typo for /32 as often as
    for 10.0.0.0/8, and guessing wrong trusts a whole network's forged headers."""
    networks = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        try:
            networks.append(ip_network(part))
        except ValueError as error:
            raise BadProxySetting(f"{part!r} is not an address or network ({error})") from None
    return tuple(networks)


def _parse_hop(text: str) -> Address | None:
    """One X-Forwarded-For entry; some proxies add a port (`1.2.3.4:5678`, `[::1]:5678`)."""
    text = text.strip()
    if text.startswith("[") and "]" in text:
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:
        text = text.split(":", 1)[0]
    try:
        return ip_address(text)
    except ValueError:
        return None


def _trusted(address: Address, proxies: Iterable[Network]) -> bool:
    return any(address in network for network in proxies)


def client_of(peer: str | None, forwarded_for: str | None, proxies: tuple[Network, ...]) -> str:
    """The client's address: the peer, unless the peer is a trusted proxy; then the right-most
    X-Forwarded-For hop that is not a trusted proxy (or, all of them trusted, the left-most)."""
    peer_address = _parse_hop(peer) if peer else None
    if peer_address is None:
        return peer or "unknown"
    if not proxies or not forwarded_for or not _trusted(peer_address, proxies):
        return str(peer_address)
    hops = forwarded_for.split(",")[-MAX_HOPS:]
    client = peer_address
    for text in reversed(hops):
        hop = _parse_hop(text)
        if hop is None:
            # Not an address where a trusted proxy wrote one: that proxy's own peer is all we
            # know (never the garbled text, which a client may have chosen).
            return str(client)
        client = hop
        if not _trusted(hop, proxies):
            return str(hop)
    return str(client)
