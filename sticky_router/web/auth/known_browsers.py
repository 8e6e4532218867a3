"""Browsers that signed in to an account before: they are not slowed by others' guesses.

After a successful sign-in the browser gets a cookie naming the account and a random browser
id, signed with a key only this process knows (HMAC-SHA256). An attempt that carries a valid
one for the account it signs in to is its owner's browser: the sign-in limiter gives it a delay
of its own instead of the account's (web/auth/ratelimit.py). The cookie opens nothing by itself: the
password is checked as always. A restart makes a new key, so every browser is unknown again
until its next sign-in, as the limiter's counts are forgotten too.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass, field

KNOWN_FOR_SECONDS = 30 * 24 * 3600


def _mac(key: bytes, account: str, browser: str) -> str:
    digest = hmac.new(key, f"{account}\n{browser}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:18]).decode()


@dataclass
class KnownBrowsers:
    _key: bytes = field(default_factory=lambda: secrets.token_bytes(32), repr=False)

    def token_for(self, account: str) -> str:
        """The cookie's value for a browser that has just signed in to `account`."""
        browser = secrets.token_urlsafe(12)
        return f"{browser}.{_mac(self._key, account, browser)}"

    def browser_of(self, account: str, token: str | None) -> str | None:
        """The browser id if `token` is this process's for `account`, else None."""
        if not token or token.count(".") != 1 or len(token) > 100:
            return None
        browser, mac = token.split(".")
        if not hmac.compare_digest(mac, _mac(self._key, account, browser)):
            return None
        return browser
