"""What the web app needs to know about where it runs and how long sessions last."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta


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
    # Sign-in attempts that fail, per account and per client address, in this many seconds.
    sign_in_window_seconds: float = 300.0
    sign_in_failures_per_account: int = 5
    sign_in_failures_per_address: int = 20
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
