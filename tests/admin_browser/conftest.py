"""Admin pages end to end: a real Asterisk 22 (phone ports from 46000) and PostgreSQL, the router
with its web server in this process, SIPp phones, and headless Chromium (Playwright driving the
Debian package's /usr/bin/chromium). The e2e and browser suites' fixtures are reused; they resolve
against this suite's own `sandbox` and `router`."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sticky_router.process.sandbox.stack import Sandbox, throwaway_sandbox
from tests.browser.conftest import (  # noqa: F401 - fixtures, resolved against this `sandbox`
    artifacts,
    base_url,
    chromium,
    contexts,
    router,
)
from tests.e2e.conftest import asterisk, fresh, phone_logs, pool, postgres  # noqa: F401


@pytest.fixture(scope="package")
def sandbox() -> Iterator[Sandbox]:
    with throwaway_sandbox("admin", phone_ports_from=46000) as stack:
        yield stack
