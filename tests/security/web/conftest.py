"""The security suite of the web app runs on the web suite's real PostgreSQL and real HTTP
(tests/web/conftest.py); this file only brings those fixtures into scope."""

from __future__ import annotations

from tests.integration.conftest import database_url, pool, postgres  # noqa: F401 - fixtures
from tests.web.conftest import browsers, make_web, seeded, web  # noqa: F401 - fixtures
