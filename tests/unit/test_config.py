"""Configuration: a bad or missing value stops start-up with a sentence naming the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from sticky_router.process.config import ConfigError, load_config

SECRET_URL = "postgresql://router:hunter2-secret@db.internal:5432/sticky"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in list(os.environ):
        if name.startswith("STICKY_"):
            monkeypatch.delenv(name)


def test_defaults_without_any_variable() -> None:
    config = load_config()
    assert config.database_url is None
    assert config.db_budget_ms == 300
    assert config.default_region == "RU"
    assert config.event_loop == "uvloop"


def test_missing_database_url_names_the_key() -> None:
    with pytest.raises(ConfigError, match="STICKY_DATABASE_URL is not set"):
        load_config().require_database_url()


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("STICKY_DB_BUDGET_MS", "-5"),
        ("STICKY_DB_BUDGET_MS", "fast"),
        ("STICKY_DEFAULT_REGION", "XX"),
        ("STICKY_LOG_LEVEL", "loud"),
        ("STICKY_DATABASE_URL", "mysql://root:pw@localhost/db"),
        ("STICKY_DATABASE_DIRECT_URL", "mysql://root:pw@localhost/db"),
        ("STICKY_DATABASE_POOLER", "pgbouncer"),
        ("STICKY_EVENT_LOOP", "trio"),
    ],
)
def test_bad_value_names_the_key(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as caught:
        load_config()
    assert variable in str(caught.value)


def test_password_never_in_repr_or_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STICKY_DATABASE_URL", SECRET_URL)
    config = load_config()
    assert "hunter2" not in repr(config)
    assert "hunter2" not in str(config.model_dump())
    assert config.require_database_url() == SECRET_URL

    monkeypatch.setenv("STICKY_DATABASE_URL", SECRET_URL.replace("postgresql", "mysql"))
    with pytest.raises(ConfigError) as caught:
        load_config()
    assert "hunter2" not in str(caught.value)


def test_file_is_read_and_environment_wins(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    file = tmp_path / "sticky.toml"
    file.write_text('default_region = "GB"\ndb_budget_ms = 250\n')
    monkeypatch.setenv("STICKY_CONFIG_FILE", str(file))
    monkeypatch.setenv("STICKY_DB_BUDGET_MS", "400")
    config = load_config()
    assert config.default_region == "GB"
    assert config.db_budget_ms == 400


def test_missing_or_broken_file_is_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("STICKY_CONFIG_FILE", str(tmp_path / "absent.toml"))
    with pytest.raises(ConfigError, match="STICKY_CONFIG_FILE"):
        load_config()
    broken = tmp_path / "broken.toml"
    broken.write_text("db_budget_ms = = 3")
    monkeypatch.setenv("STICKY_CONFIG_FILE", str(broken))
    with pytest.raises(ConfigError, match="STICKY_CONFIG_FILE"):
        load_config()


DIRECT_URL = "postgresql://router:hunter2-secret@db1.internal:5432/sticky"
POOLER_URL = "postgresql://router:hunter2-secret@pgbouncer.internal:6432/sticky"


def test_a_transaction_pooler_needs_the_direct_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STICKY_DATABASE_URL", POOLER_URL)
    monkeypatch.setenv("STICKY_DATABASE_POOLER", "transaction")
    with pytest.raises(ConfigError, match="needs STICKY_DATABASE_DIRECT_URL") as caught:
        load_config().require_direct_database_url()
    assert "hunter2" not in str(caught.value)
    monkeypatch.setenv("STICKY_DATABASE_DIRECT_URL", DIRECT_URL)
    config = load_config()
    assert config.require_direct_database_url() == DIRECT_URL
    assert config.require_database_url() == POOLER_URL
    # Migrations and one-shot commands keep session state: never through the pooler.
    assert config.session_database_url() == DIRECT_URL
    assert "hunter2" not in repr(config)


def test_a_direct_url_without_a_pooler_is_a_mistake_said_so(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("STICKY_DATABASE_URL", DIRECT_URL)
    monkeypatch.setenv("STICKY_DATABASE_DIRECT_URL", DIRECT_URL)
    with pytest.raises(ConfigError, match="STICKY_DATABASE_POOLER is not `transaction`"):
        load_config().session_database_url()


def test_without_a_pooler_every_connection_uses_the_one_url(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    replicated = "postgresql://router@db1:5432,db2:5432/sticky?target_session_attrs=read-write"
    monkeypatch.setenv("STICKY_DATABASE_URL", replicated)
    config = load_config()
    assert config.require_direct_database_url() is None
    assert config.session_database_url() == replicated


def test_the_ticket_source_is_builtin_unless_chosen() -> None:
    assert load_config().require_ticket_source_url() is None


def test_an_http_ticket_source_needs_its_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STICKY_TICKET_SOURCE", "http")
    with pytest.raises(ConfigError, match="STICKY_TICKET_SOURCE_URL is not set"):
        load_config().require_ticket_source_url()
    monkeypatch.setenv("STICKY_TICKET_SOURCE_URL", "https://crm.local/sticky/")
    assert load_config().require_ticket_source_url() == "https://crm.local/sticky"


@pytest.mark.parametrize(
    "url", ["ftp://crm.local", "crm.local", "https://user:pw@crm.local", "https://crm.local/?k=v"]
)
def test_a_ticket_source_url_with_credentials_or_not_http_stops_start_up(
    monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    monkeypatch.setenv("STICKY_TICKET_SOURCE_URL", url)
    with pytest.raises(ConfigError, match="STICKY_TICKET_SOURCE_URL") as raised:
        load_config()
    assert "pw" not in str(raised.value)


def test_the_ticket_source_token_is_never_printed(monkeypatch: pytest.MonkeyPatch) -> None:
    from sticky_router.process.ticket_source import TicketSourceSettings

    monkeypatch.setenv("STICKY_TICKET_SOURCE", "http")
    monkeypatch.setenv("STICKY_TICKET_SOURCE_URL", "https://crm.local")
    monkeypatch.setenv("STICKY_TICKET_SOURCE_TOKEN", "tok-hunter2-secret")
    config = load_config()
    settings = TicketSourceSettings.from_config(config)
    assert settings is not None
    assert settings.token == "tok-hunter2-secret"
    for shown in (repr(config), str(config), repr(settings)):
        assert "hunter2" not in shown


def test_a_redmine_source_needs_its_url_and_an_api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    from sticky_router.process.ticket_source import TicketSourceSettings

    monkeypatch.setenv("STICKY_TICKET_SOURCE", "redmine")
    with pytest.raises(ConfigError, match="needs Redmine's base URL"):
        load_config().require_ticket_source_url()
    monkeypatch.setenv("STICKY_TICKET_SOURCE_URL", "https://redmine.isp.local/")
    with pytest.raises(ConfigError, match="STICKY_TICKET_SOURCE_TOKEN is not set"):
        load_config().require_ticket_source_url()
    monkeypatch.setenv("STICKY_TICKET_SOURCE_TOKEN", "0123456789abcdef-api-key")
    monkeypatch.setenv("STICKY_REDMINE_FAULTS_FIELD", "")
    monkeypatch.setenv("STICKY_REDMINE_PENDING_STATUSES", "Feedback, Waiting for customer")
    settings = TicketSourceSettings.from_config(load_config())
    assert settings is not None
    assert settings.kind == "redmine"
    assert settings.redmine is not None
    assert settings.redmine.url == "https://redmine.isp.local"
    assert settings.redmine.fields.last_faults is None  # empty: not used
    assert settings.redmine.fields.phone == "Phone"
    assert settings.redmine.pending_statuses == {"Feedback", "Waiting for customer"}
    assert "api-key" not in repr(settings) + repr(settings.redmine)


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("STICKY_REDMINE_PHONE_FIELD", ""),  # the phone field is required
        ("STICKY_REDMINE_ACCOUNT_FIELD", "Account\nX-Injected: 1"),
        ("STICKY_REDMINE_PROJECT", "Support Line"),
        ("STICKY_REDMINE_PUBLIC_URL", "javascript:alert(1)"),
    ],
)
def test_a_hostile_or_empty_redmine_setting_stops_start_up(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError, match=variable):
        load_config()
