"""Process configuration from `STICKY_*` environment variables and an optional TOML file.

Environment variables win over the file, so a deployment can keep the file in the image and
override one value per host. A bad or missing value stops start-up with one sentence naming the
variable; secrets are `SecretStr`, so they print as `**********` in reprs and logs.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

import phonenumbers
from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from sticky_router.agi.peers import LOOPBACK, PeerPolicy, parse_networks
from sticky_router.process.event_loop import EventLoopKind
from sticky_router.web.auth.proxies import parse_trusted_proxies
from sticky_router.web.settings import Network

ENV_PREFIX = "STICKY_"
CONFIG_FILE_VARIABLE = f"{ENV_PREFIX}CONFIG_FILE"
PLACEHOLDER = "change-me"  # how docker/.env.example marks the values to replace
# Redmine names (custom fields, statuses): printable, no control characters, Redmine's 30/255.
REDMINE_FIELD_NAME = r"^[^\x00-\x1f\x7f]{1,255}$"
REDMINE_OPTIONAL_NAME = r"^[^\x00-\x1f\x7f]{0,255}$"
REDMINE_NAME_LIST = r"^[^\x00-\x1f\x7f]{0,1000}$"  # comma-separated


class ConfigError(RuntimeError):
    """Start-up cannot go on; the message is meant for the person who deploys the router."""


class Config(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", frozen=True)

    database_url: SecretStr | None = None
    # `transaction`: DATABASE_URL is a pooler in transaction mode (PgBouncer's pool_mode =
    # transaction); then DATABASE_DIRECT_URL reaches PostgreSQL itself, for LISTEN (a session's),
    # migrations and the long reads of the what-if replay (docs/multi-node.md).
    database_pooler: Literal["none", "transaction"] = "none"
    database_direct_url: SecretStr | None = None
    default_region: str = "RU"
    db_budget_ms: int = Field(300, gt=0, le=10_000)
    db_pool_size: int = Field(10, ge=1, le=200)
    web_db_pool_size: int = Field(4, ge=1, le=100)
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_format: Literal["json", "console"] = "console"
    event_loop: EventLoopKind = "uvloop"
    # Asterisk. Unset ARI_URL means "no Asterisk of yours": `sticky-router run` starts the sandbox.
    ari_url: str | None = None
    ari_user: str = "sticky-router"
    ari_password: SecretStr | None = None
    ari_app: str = Field("sticky-router", pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    ami_host: str = "127.0.0.1"
    ami_port: int = Field(5038, ge=1, le=65535)
    ami_user: str = "sticky-router"
    ami_password: SecretStr | None = None
    queue_context: str = Field("sticky-queue", pattern=r"^[A-Za-z0-9_.-]{1,79}$")
    # One node of several (docs/multi-node.md): its Asterisk's systemname, also the name of the
    # trunk endpoint the other nodes reach it by. Empty: a line of one node.
    node: str = Field("", pattern=r"^([a-z0-9][a-z0-9-]{0,31})?$")
    # FastAGI (`sticky-router agi`): where Asterisk's AGI() reaches the router.
    agi_host: str = "127.0.0.1"
    agi_port: int = Field(4573, ge=1, le=65535)
    agi_max_connections: int = Field(200, ge=1, le=10_000)
    agi_metrics_port: int = Field(4574, ge=0, le=65535)  # Prometheus /metrics of `agi`; 0: off
    # Who may talk to the FastAGI server: the Asterisk hosts (comma-separated addresses or
    # networks) and the secret every AGI URL carries (agi://host:4573/lookup?secret=...).
    agi_allowed_peers: str = LOOPBACK
    agi_secret: SecretStr | None = None
    # The call journals (one file per process): what is learned is on this disk first.
    journal_dir: Path = Path("/var/lib/sticky-router")
    journal_max_events: int = Field(1_000_000, ge=1_000, le=100_000_000)
    # Asterisk's queue_log (usually /var/log/asterisk/queue_log), readable by the router: the
    # calls answered in the queue while the router was away are learned from it. Unset: not read.
    queue_log_path: Path | None = None
    # The web pages (agent screen, admin pages), served by `run` beside the router.
    web_enabled: bool = True
    web_host: str = "127.0.0.1"
    web_port: int = Field(8090, ge=1, le=65535)
    web_origins: str = ""  # comma-separated, e.g. https://support.example.com
    web_cookie_secure: bool = False
    web_session_idle_minutes: int = Field(30, ge=1, le=24 * 60)
    web_session_hours: int = Field(12, ge=1, le=24 * 30)
    # Reverse proxies whose X-Forwarded-For is believed (comma-separated addresses or networks);
    # empty: the TCP peer is the client.
    web_trusted_proxies: str = ""
    # An agent reads and writes a call's data while it rings or talks to them and this long after.
    agent_access_hours: int = Field(4, ge=0, le=24 * 30)
    # Retention of personal data, in days (0: kept for ever); a purge job deletes what is older.
    # Calls (caller numbers, IVR input, legs) leave anonymous daily counts behind; notes and the
    # agents' action trail go with their call at the latest; do-not-pair and blocks rows count
    # from their expiry; audits are kept longest, as the proof of what was changed and erased.
    retain_calls_days: int = Field(365, ge=0, le=3660)
    retain_notes_days: int = Field(365, ge=0, le=3660)
    retain_pops_days: int = Field(30, ge=0, le=3660)
    retain_expired_flags_days: int = Field(90, ge=0, le=3660)
    retain_audit_days: int = Field(1095, ge=0, le=3660)
    retention_interval_minutes: int = Field(60, ge=1, le=24 * 60)
    retention_batch_rows: int = Field(1000, ge=10, le=100_000)
    # Where tickets come from: the product's own tables, or a system of yours serving the HTTP
    # contract of docs/ticket-sources.md (then a background runner mirrors its open tickets and
    # calls are routed from the mirror: the source is never on a call's path).
    # `redmine` reads a Redmine's REST API: then the URL is Redmine's and the token its API key.
    ticket_source: Literal["builtin", "http", "redmine"] = "builtin"
    ticket_source_url: str | None = None
    ticket_source_token: SecretStr | None = None
    ticket_source_timeout_ms: int = Field(2000, ge=100, le=60_000)  # a lookup, a call report
    # What a ringing agent's pop waits for the source's details before "unavailable".
    ticket_pop_timeout_ms: int = Field(800, ge=50, le=5_000)
    ticket_sync_timeout_seconds: int = Field(30, ge=1, le=600)  # one sync of the mirror
    ticket_sync_interval_seconds: int = Field(30, ge=1, le=3600)
    ticket_full_resync_minutes: int = Field(60, ge=1, le=7 * 24 * 60)
    # A finished call is reported this long after its end, so the agent's wrap-up note goes too.
    ticket_report_delay_seconds: int = Field(60, ge=0, le=3600)
    # Redmine (docs/ticket-sources.md#redmine): which issue custom fields say who the subscriber
    # is, by their names in Redmine; an empty name leaves that field unused.
    redmine_project: str | None = Field(None, pattern=r"^[a-z0-9_-]{1,100}$")
    redmine_public_url: str | None = None
    redmine_phone_field: str = Field("Phone", pattern=REDMINE_FIELD_NAME)
    redmine_account_field: str = Field("Account", pattern=REDMINE_OPTIONAL_NAME)
    redmine_customer_field: str = Field("Customer", pattern=REDMINE_OPTIONAL_NAME)
    redmine_class_field: str = Field("Customer class", pattern=REDMINE_OPTIONAL_NAME)
    redmine_faults_field: str = Field("Last faults", pattern=REDMINE_OPTIONAL_NAME)
    redmine_promised_field: str = Field("", pattern=REDMINE_OPTIONAL_NAME)  # "": the due date
    redmine_pending_statuses: str = Field("Feedback", pattern=REDMINE_NAME_LIST)
    redmine_resolved_statuses: str = Field("Resolved", pattern=REDMINE_NAME_LIST)
    redmine_write_as_agent: bool = True

    @field_validator(
        "database_url",
        "database_direct_url",
        "ari_password",
        "ami_password",
        "agi_secret",
        "ticket_source_token",
    )
    @classmethod
    def _not_a_placeholder(cls, value: SecretStr | None) -> SecretStr | None:
        """docker/.env.example's `change-me-...` values must never guard a real deployment (the
        sandbox never reads them: it generates its own)."""
        if value is not None and PLACEHOLDER in value.get_secret_value():
            raise ValueError(
                f"is still an example's placeholder ({PLACEHOLDER}...); set a secret of your own"
            )
        return value

    @field_validator("database_url", "database_direct_url")
    @classmethod
    def _postgres_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        parts = urlsplit(value.get_secret_value())
        if parts.scheme not in ("postgresql", "postgres") or not (parts.hostname or parts.path):
            # Never echo the URL back: it usually carries the password.
            raise ValueError("must be a postgresql:// URL, for example postgresql://user@host/db")
        return value

    @field_validator("ari_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(
                "must be the Asterisk HTTP server's base URL, e.g. http://127.0.0.1:8088"
            )
        if parts.username or parts.password:
            raise ValueError(
                "must not carry credentials; set STICKY_ARI_USER and STICKY_ARI_PASSWORD"
            )
        return value.rstrip("/").removesuffix("/ari")

    @field_validator("ticket_source_url", "redmine_public_url")
    @classmethod
    def _ticket_source_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be the ticket service's base URL, e.g. https://crm.local/sticky")
        if parts.username or parts.password or parts.query:
            # Credentials in a URL end up in logs and proxies: the token has its own variable.
            raise ValueError(
                "must carry no credentials or query; set STICKY_TICKET_SOURCE_TOKEN instead"
            )
        return value.rstrip("/")

    def require_ticket_source_url(self) -> str | None:
        """The external source's base URL when one is chosen; None for the built-in one."""
        if self.ticket_source == "builtin":
            return None
        if self.ticket_source_url is None:
            raise ConfigError(
                f"{ENV_PREFIX}TICKET_SOURCE_URL is not set: STICKY_TICKET_SOURCE="
                f"{self.ticket_source} needs {_SOURCE_URL[self.ticket_source]} "
                "(docs/ticket-sources.md)"
            )
        if self.ticket_source == "redmine" and self.ticket_source_token is None:
            raise ConfigError(
                f"{ENV_PREFIX}TICKET_SOURCE_TOKEN is not set: STICKY_TICKET_SOURCE=redmine needs "
                "the API key of a Redmine administrator (My account, API access key)"
            )
        return self.ticket_source_url

    @field_validator("web_origins")
    @classmethod
    def _origins(cls, value: str) -> str:
        for origin in filter(None, (part.strip() for part in value.split(","))):
            parts = urlsplit(origin)
            if parts.scheme not in ("http", "https") or not parts.hostname or parts.path.strip("/"):
                raise ValueError(
                    f"{origin!r} is not an origin; write scheme://host[:port], comma-separated"
                )
        return value

    def web_origin_list(self) -> tuple[str, ...]:
        return tuple(
            part.strip().rstrip("/") for part in self.web_origins.split(",") if part.strip()
        )

    @field_validator("agi_allowed_peers")
    @classmethod
    def _agi_peers(cls, value: str) -> str:
        parse_networks(value)  # BadPeerPolicy is a ValueError: one sentence at start-up
        return value

    @field_validator("agi_secret")
    @classmethod
    def _agi_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            PeerPolicy.of(LOOPBACK, value.get_secret_value())  # never echoes the secret
        return value

    @field_validator("web_trusted_proxies")
    @classmethod
    def _trusted_proxies(cls, value: str) -> str:
        parse_trusted_proxies(value)  # BadProxySetting is a ValueError: one sentence at start-up
        return value

    def web_trusted_proxy_networks(self) -> tuple[Network, ...]:
        return parse_trusted_proxies(self.web_trusted_proxies)

    @field_validator("default_region")
    @classmethod
    def _known_region(cls, value: str) -> str:
        region = value.upper()
        if region not in phonenumbers.SUPPORTED_REGIONS:
            raise ValueError(f"{value!r} is not a two-letter region phonenumbers knows, such as RU")
        return region

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config_file = os.environ.get(CONFIG_FILE_VARIABLE)
        if config_file:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=Path(config_file)))
        return tuple(sources)

    def require_asterisk(self) -> tuple[str, str]:
        """ARI URL and password, or a ConfigError naming what is missing."""
        if self.ari_url is None or self.ari_password is None:
            missing = "STICKY_ARI_URL" if self.ari_url is None else "STICKY_ARI_PASSWORD"
            raise ConfigError(
                f"{missing} is not set: the router needs Asterisk's ARI (or run it with neither "
                "STICKY_ARI_URL nor STICKY_DATABASE_URL set to get the local sandbox)"
            )
        return self.ari_url, self.ari_password.get_secret_value()

    def require_agi_secret(self) -> str:
        if self.agi_secret is None:
            raise ConfigError(
                f"{ENV_PREFIX}AGI_SECRET is not set: the FastAGI server serves only requests "
                "whose AGI URL carries it (set STICKY_AGI_SECRET in Asterisk's [globals] to the "
                "same value; generate one with: python3 -c 'import secrets; "
                "print(secrets.token_urlsafe(24))')"
            )
        return self.agi_secret.get_secret_value()

    def require_database_url(self) -> str:
        if self.database_url is None:
            raise ConfigError(
                f"{ENV_PREFIX}DATABASE_URL is not set: point it at the PostgreSQL database, "
                "for example postgresql://sticky@127.0.0.1/sticky"
            )
        return self.database_url.get_secret_value()

    def require_direct_database_url(self) -> str | None:
        """The URL of PostgreSQL itself when DATABASE_URL is a transaction pooler, else None."""
        if self.database_pooler == "none":
            if self.database_direct_url is not None:
                raise ConfigError(
                    f"{ENV_PREFIX}DATABASE_DIRECT_URL is set but {ENV_PREFIX}DATABASE_POOLER is "
                    "not `transaction`: say which of the two URLs is the pooler"
                )
            return None
        if self.database_direct_url is None:
            raise ConfigError(
                f"{ENV_PREFIX}DATABASE_POOLER=transaction needs {ENV_PREFIX}DATABASE_DIRECT_URL: "
                "a transaction pooler loses LISTEN's notifications, so the router keeps one "
                "connection to PostgreSQL itself"
            )
        return self.database_direct_url.get_secret_value()

    def session_database_url(self) -> str:
        """Where a one-shot command (migrate, seed-demo, purge, simulate) connects: PostgreSQL
        itself, not a transaction pooler (migrations and cursors keep session state)."""
        return self.require_direct_database_url() or self.require_database_url()


_SOURCE_URL = {"http": "the ticket service's base URL", "redmine": "Redmine's base URL"}


def load_config() -> Config:
    """Read the configuration, or raise ConfigError with one sentence per bad key."""
    config_file = os.environ.get(CONFIG_FILE_VARIABLE)
    if config_file and not Path(config_file).is_file():
        raise ConfigError(f"{CONFIG_FILE_VARIABLE} names {config_file!r}, which is not a file")
    try:
        return Config()
    except ValidationError as error:
        sentences = []
        for problem in error.errors():
            field = str(problem["loc"][0]) if problem["loc"] else "?"
            sentences.append(f"{ENV_PREFIX}{field.upper()}: {problem['msg']}.")
        raise ConfigError(" ".join(sentences)) from None
    except (OSError, ValueError) as error:
        raise ConfigError(f"{CONFIG_FILE_VARIABLE} could not be read: {error}") from None
