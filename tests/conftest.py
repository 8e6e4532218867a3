"""What every test gets: logging as the test found it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import structlog


@pytest.fixture(autouse=True)
def _logging_as_found() -> Iterator[None]:
    """A test that runs the CLI in-process configures logging as for an operator (info level):
    afterwards, a later test's `capture_logs` must still see debug events."""
    saved = structlog.get_config()
    yield
    structlog.configure(**saved)
