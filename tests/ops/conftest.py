"""The ops kit's tests: the real tools (promtool, systemd-analyze, pip) on the files operators
use; the packaging test gets a PostgreSQL of its own, left empty for the installed wheel's
`migrate`."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sticky_router.sandbox.postgres import LocalPostgres, throwaway_postgres


@pytest.fixture(scope="package")
def empty_postgres() -> Iterator[LocalPostgres]:
    with throwaway_postgres() as server:
        yield server
