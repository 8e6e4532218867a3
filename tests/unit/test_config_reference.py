"""docs/configuration.md is what the configuration model says, and says something about every
setting."""

from __future__ import annotations

from pathlib import Path

import pytest

from sticky_router.process.cli import main
from sticky_router.process.config import Config
from sticky_router.process.config_reference import MEANINGS, reference

DOC = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"


def test_every_setting_has_a_meaning_and_every_meaning_a_setting() -> None:
    assert set(MEANINGS) == set(Config.model_fields)


def test_the_reference_in_docs_is_current() -> None:
    assert DOC.read_text() == reference(), (
        "docs/configuration.md is out of date: sticky-router config-reference > "
        "docs/configuration.md"
    )


def test_the_reference_shows_types_bounds_defaults_and_secrets() -> None:
    rows = {line.split(" | ")[0].strip("| `"): line for line in reference().splitlines()}
    assert "integer (> 0, <= 10000) | `300` |" in rows["STICKY_DB_BUDGET_MS"]
    assert "| secret, optional | none |" in rows["STICKY_TICKET_SOURCE_TOKEN"]
    assert "`builtin` \\| `http` \\| `redmine` | `builtin` |" in rows["STICKY_TICKET_SOURCE"]
    assert "| `true` \\| `false` | `true` |" in rows["STICKY_WEB_ENABLED"]


def test_the_command_prints_it_without_any_configuration(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STICKY_DB_BUDGET_MS", "not a number")  # would stop any other command
    assert main(["config-reference"]) == 0
    assert capsys.readouterr().out == reference()
