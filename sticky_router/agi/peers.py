"""Who may talk to the FastAGI server: our Asterisk, and nobody else.

Two checks, both needed. The peer's address must be on the allow-list of Asterisk hosts, which
is checked before a single byte is read (a scanner costs us an accept and a close). Then the
AGI URL must carry the shared secret (`agi://router:4573/lookup?secret=...`, as the shipped
dialplan writes it), compared in constant time: an address alone can be borrowed by anything
else running on the Asterisk host, or behind the same NAT.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass, field

from sticky_router.agi.protocol import script_option

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

MIN_SECRET_CHARS = 16
LOOPBACK = "127.0.0.1/32,::1/128"


class BadPeerPolicy(ValueError):
    """The allow-list or the secret cannot be used; the message says why (never the secret)."""


def parse_networks(text: str) -> tuple[Network, ...]:
    """`10.0.0.5, 10.0.1.0/24, ::1` -> networks; a host address is a network of one."""
    networks = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        try:
            networks.append(ipaddress.ip_network(part, strict=False))
        except ValueError:
            raise BadPeerPolicy(f"{part!r} is not an address or network") from None
    if not networks:
        raise BadPeerPolicy("no address allowed: name the Asterisk hosts, e.g. 10.0.0.5")
    return tuple(networks)


@dataclass(frozen=True)
class PeerPolicy:
    allowed: tuple[Network, ...]
    secret: str = field(repr=False)

    def __post_init__(self) -> None:
        if len(self.secret) < MIN_SECRET_CHARS:
            raise BadPeerPolicy(f"the AGI secret must have at least {MIN_SECRET_CHARS} characters")
        if not self.secret.isascii() or not self.secret.replace("-", "").replace("_", "").isalnum():
            # It travels in a dialplan line and a URL: a `,` would split AGI()'s arguments.
            raise BadPeerPolicy("the AGI secret may use letters, digits, - and _ only")

    @classmethod
    def of(cls, allowed: str | Iterable[Network], secret: str) -> PeerPolicy:
        networks = parse_networks(allowed) if isinstance(allowed, str) else tuple(allowed)
        return cls(networks, secret)

    def address_allowed(self, host: str) -> bool:
        try:
            address = ipaddress.ip_address(host.split("%", 1)[0])
        except ValueError:
            return False
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped  # a dual-stack listener sees ::ffff:10.0.0.5
        return any(address in network for network in self.allowed)

    def secret_matches(self, script_path: str) -> bool:
        """`lookup?secret=...` as Asterisk sends agi_network_script."""
        given = script_option(script_path, "secret")
        # One secret, compared in constant time whatever its length.
        return given is not None and hmac.compare_digest(given.encode(), self.secret.encode())
