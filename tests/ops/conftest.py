"""The ops kit's tests: the real tools (promtool, systemd-analyze, pip) on the files operators
use; the packaging test gets a PostgreSQL of its own, left empty for the installed wheel's
`migrate`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from devkit.sandbox.postgres import LocalPostgres, throwaway_postgres
from tests.ops.wheel import build_and_install


@pytest.fixture(scope="package")
def empty_postgres() -> Iterator[LocalPostgres]:
    with throwaway_postgres() as server:
        yield server


@pytest.fixture(scope="package")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel built from the image's build context and installed away from this checkout
    (tests/ops/wheel.py); the directory holding dist/ and site/."""
    work = tmp_path_factory.mktemp("wheel")
    build_and_install(work)
    return work
