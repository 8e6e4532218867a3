"""The what-if replay's figures in the reader's language, for the what-if page and the settings
page's preview (the core's report labels them in English for the command line)."""

from __future__ import annotations

from collections.abc import Callable

import sticky_router.web.i18n.settings  # noqa: F401 - registers the figures' words
from sticky_router.routing_core.simulation_report import rows
from sticky_router.routing_core.store.replay import ReplayReport

Translate = Callable[..., str]


def words_or(t: Translate, key: str, fallback: str, **values: str) -> str:
    words = t(key, **values)
    return fallback if words == key else words


def figure_rows(t: Translate, report: ReplayReport) -> list[tuple[str, str, str]]:
    """(what the row counts, in force, candidate) for every row of the report."""
    table = []
    for row in rows(report):
        if row.figure == "missed":
            reason = words_or(t, f"reason.{row.reason}", row.reason)
            words = words_or(t, "figure.missed", row.label, reason=reason)
        else:
            words = words_or(t, f"figure.{row.figure}", row.label)
        table.append((words, row.in_force, row.candidate))
    return table
