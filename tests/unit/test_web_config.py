"""The web pages' STICKY_WEB_* settings: defaults, origins checked, WebSettings built from them."""

from __future__ import annotations

import os
from datetime import timedelta

import pytest

from sticky_router.process.cli import web_settings
from sticky_router.process.config import ConfigError, load_config


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("STICKY_"):
            monkeypatch.delenv(name)


def test_web_defaults_serve_loopback_and_accept_only_their_own_origin() -> None:
    settings = web_settings(load_config())
    assert settings is not None
    assert (settings.host, settings.port, settings.cookie_secure) == ("127.0.0.1", 8090, False)
    assert settings.origins() == {"http://127.0.0.1:8090", "http://localhost:8090"}
    assert settings.session_idle == timedelta(minutes=30)
    assert settings.session_absolute == timedelta(hours=12)


def test_web_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STICKY_WEB_ORIGINS", "https://support.example.com, https://b.example/")
    monkeypatch.setenv("STICKY_WEB_COOKIE_SECURE", "true")
    monkeypatch.setenv("STICKY_WEB_SESSION_IDLE_MINUTES", "15")
    settings = web_settings(load_config())
    assert settings is not None
    assert settings.origins() == {"https://support.example.com", "https://b.example"}
    assert settings.cookie_secure
    assert settings.session_idle == timedelta(minutes=15)
    monkeypatch.setenv("STICKY_WEB_ENABLED", "false")
    assert web_settings(load_config()) is None


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("STICKY_WEB_ORIGINS", "support.example.com"),
        ("STICKY_WEB_ORIGINS", "https://example.com/agent/"),
        ("STICKY_WEB_PORT", "70000"),
        ("STICKY_WEB_SESSION_IDLE_MINUTES", "0"),
    ],
)
def test_a_bad_web_value_names_its_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError, match=variable):
        load_config()
