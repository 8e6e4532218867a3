"""Attacks against the real components: a FastAGI socket, Asterisk 22 running the shipped
dialplan with SIPp phones, PostgreSQL, the web app over HTTP.

The Asterisk-based tests here use a sandbox of their own (phones from port 48000), built from
the end-to-end fixtures: a security test may leave a hostile setting or a refused peer behind
without touching the end-to-end suite's instance.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from devkit.sandbox.stack import Sandbox, throwaway_sandbox
from tests.e2e.conftest import agi, asterisk, fresh, phone_logs, pool, postgres, router

__all__ = ["agi", "asterisk", "fresh", "phone_logs", "pool", "postgres", "router"]


@pytest.fixture(scope="package")
def sandbox() -> Iterator[Sandbox]:
    with throwaway_sandbox("security", phone_ports_from=48000) as stack:
        yield stack
