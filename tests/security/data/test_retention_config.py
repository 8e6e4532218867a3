"""The retention settings: defaults an ISP can defend, and nonsense refused at start-up."""

from __future__ import annotations

import os

import pytest

from sticky_router.process.config import ConfigError, load_config
from sticky_router.process.privacy_cli import retention_policy


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("STICKY_"):
            monkeypatch.delenv(name)


def test_defaults() -> None:
    config = load_config()
    policy = retention_policy(config)
    assert (policy.calls_days, policy.notes_days, policy.pops_days) == (365, 365, 30)
    assert (policy.expired_flags_days, policy.audit_days, policy.batch_rows) == (90, 1095, 1000)
    assert config.retention_interval_minutes == 60


def test_zero_keeps_for_ever(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STICKY_RETAIN_CALLS_DAYS", "0")
    assert retention_policy(load_config()).calls_days == 0


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("STICKY_RETAIN_CALLS_DAYS", "-1"),
        ("STICKY_RETAIN_POPS_DAYS", "a month"),
        ("STICKY_RETAIN_AUDIT_DAYS", "100000"),
        ("STICKY_RETENTION_BATCH_ROWS", "1"),
        ("STICKY_RETENTION_INTERVAL_MINUTES", "0"),
    ],
)
def test_bad_value_names_the_key(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError, match=variable):
        load_config()
