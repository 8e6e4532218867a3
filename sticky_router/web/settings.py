"""What the web app needs to know about where it runs and how long sessions last."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from ipaddress import IPv4Network, IPv6Network

Network = IPv4Network | IPv6Network


@dataclass(frozen=True)
class WebSettings:
    host: str = "127.0.0.1"
    port: int = 8090
    # Origins a browser may send POSTs and websocket upgrades from; empty: the app's own
    # address (http://host:port, and localhost for 127.0.0.1).
    allowed_origins: tuple[str, ...] = ()
    cookie_secure: bool = False  # set True behind HTTPS: the cookie is then never sent in clear
    session_idle: timedelta = timedelta(minutes=30)
    session_absolute: timedelta = timedelta(hours=12)
    # Failed sign-ins are remembered this long. Per client address they are a hard limit; per
    # account the first few are free and each further one delays that account's next attempt
    # (doubling, at most the cap): see web/auth/ratelimit.py.
    sign_in_window_seconds: float = 300.0
    sign_in_failures_per_account: int = 5
    sign_in_failures_per_address: int = 20
    sign_in_delay_cap_seconds: float = 30.0
    # Reverse proxies whose X-Forwarded-For is believed; empty: the TCP peer is the client.
    trusted_proxies: tuple[Network, ...] = ()
    # An agent reads and writes a call's data while it rings or talks to them and this long
    # after their leg ended (web/pops/call_access.py).
    agent_access: timedelta = timedelta(hours=4)
    # An open agent websocket re-checks its session this often, and closes once it has ended.
    socket_session_check_seconds: float = 30.0

    def origins(self) -> frozenset[str]:
        if self.allowed_origins:
            return frozenset(origin.rstrip("/") for origin in self.allowed_origins)
        own = {f"http://{self.host}:{self.port}"}
        if self.host in ("127.0.0.1", "0.0.0.0"):  # noqa: S104 - a name, not a bind
            own |= {f"http://localhost:{self.port}", f"http://127.0.0.1:{self.port}"}
        return frozenset(own)

    @property
    def base_url(self) -> str:
        host = "127.0.0.1" if self.host == "0.0.0.0" else self.host  # noqa: S104
        return f"http://{host}:{self.port}"
