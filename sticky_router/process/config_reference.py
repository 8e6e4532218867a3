"""The configuration reference (docs/configuration.md), written from the configuration model:
every `STICKY_*` variable with its type, bounds, default and meaning. `sticky-router
config-reference` prints it; a unit test fails when the file is out of date or a setting has no
meaning written here."""

from __future__ import annotations

import types
import typing
from pathlib import Path
from typing import Any, Literal

from pydantic import SecretStr
from pydantic.fields import FieldInfo

from sticky_router.ami.event_names import manager_conf_lines
from sticky_router.process.config import CONFIG_FILE_VARIABLE, ENV_PREFIX, Config

MEANINGS: dict[str, str] = {
    "database_url": "`postgresql://user:password@host:port/db`; required by `run`, `migrate`, "
    "`seed-demo`, `decide` (with `STICKY_ARI_URL` unset too, `run` starts the sandbox). A "
    "primary with replicas: every host, primary first, and `target_session_attrs=read-write`: "
    "`postgresql://u:p@db1:5432,db2:5432/sticky?target_session_attrs=read-write`",
    "database_pooler": "`transaction` when `STICKY_DATABASE_URL` is a pooler in transaction "
    "mode (PgBouncer `pool_mode = transaction`): no prepared statements kept, no startup "
    "parameter PgBouncer refuses; `none` for PostgreSQL itself or a session-mode pooler",
    "database_direct_url": "with `STICKY_DATABASE_POOLER=transaction`: PostgreSQL itself, for "
    "the LISTEN connection of the pops, the what-if replay and the one-shot commands "
    "(`migrate`, `seed-demo`, `purge`, `forget-customer`, `simulate`); with replicas, list "
    "every host in it too",
    "default_region": "region for caller IDs written without a country code (`GB`, `DE`, ...)",
    "db_budget_ms": "how long a decision may wait for the database; after that the call goes "
    "to the queue (`db_timeout`)",
    "db_pool_size": "connections the router keeps to PostgreSQL for routing and recording",
    "web_db_pool_size": "the pages' own connections (a flood of web requests can use up these, "
    "never the routing ones)",
    "log_level": "how much the log says",
    "log_format": "`json` for one JSON object per line, `console` for people",
    "event_loop": "the loop `run` and `agi` serve calls on: `uvloop` (less CPU per call, "
    "bench/README.md) or `asyncio`, Python's own",
    "ari_url": "Asterisk's HTTP server, e.g. `http://10.0.0.5:8088` (no credentials in it)",
    "ari_user": "the ARI user (`ari.conf`)",
    "ari_password": "its password",
    "ari_app": "the Stasis application name the dialplan hands calls to; with several routers "
    "for one Asterisk, a name of each router's own starting with `sticky-router` "
    "(docs/multi-node.md)",
    "ami_host": "AMI, where the router learns who answered queue calls and transfers",
    "ami_port": "AMI's port",
    "ami_user": "the AMI user (`manager.conf`: `read = call,agent,user`, no `write`, and the "
    "event filter below; `user` only for calls from other nodes, docs/multi-node.md)",
    "ami_password": "its password; unset, the router routes but learns nothing from AMI",
    "queue_context": "the dialplan context that queues a call the router does not connect",
    "node": "with several Asterisk nodes: this router's (or FastAGI server's) node, its "
    "Asterisk's `systemname` and the name of the trunk endpoint the other nodes dial it by "
    "(docs/multi-node.md); empty: one node",
    "agi_host": "where `sticky-router agi` listens for Asterisk's `AGI()`",
    "agi_port": "its port",
    "agi_max_connections": "FastAGI conversations at once; more are refused (the dialplan "
    "then queues the call)",
    "agi_metrics_port": "Prometheus `/metrics` of `sticky-router agi` on `STICKY_AGI_HOST` "
    "(`0`: off)",
    "agi_allowed_peers": "the Asterisk hosts FastAGI answers (comma-separated addresses or "
    "networks)",
    "agi_secret": "the secret every AGI URL carries (16+ letters, digits, `-`, `_`), the same "
    "as `STICKY_AGI_SECRET` in Asterisk's `[globals]`; required by `agi`",
    "journal_dir": "where each process keeps its call journal (what it learned, on disk "
    "before PostgreSQL has it); a persistent disk",
    "journal_max_events": "the journal's bound: it warns at 80 % and refuses events (logged, "
    "counted) when full",
    "queue_log_path": "Asterisk's `queue_log`, readable by the router: calls answered in the "
    "queue while the router was down or cut off are learned from it",
    "web_enabled": "serve the agent screen and admin pages beside the router",
    "web_host": "where the pages listen; put HTTPS in front for anything but loopback",
    "web_port": "their port (`/metrics` is there too)",
    "web_origins": "comma-separated origins browsers may post and open websockets from "
    "(default: the pages' own address)",
    "web_cookie_secure": "`true` behind HTTPS: session cookies never travel in clear",
    "web_session_idle_minutes": "a session ends after this long without a request",
    "web_session_hours": "a session ends this long after sign-in",
    "web_trusted_proxies": "reverse proxies whose `X-Forwarded-For` is believed (addresses or "
    "networks); otherwise the TCP peer is the client",
    "agent_access_hours": "how long after their leg an agent still reads and writes a call's data",
    "retain_calls_days": "calls (caller numbers, IVR input, legs) are deleted after this; "
    "anonymous daily counts stay; `0`: kept for ever",
    "retain_notes_days": "notes and agent actions on calls",
    "retain_pops_days": "agent pops (which screen showed which call)",
    "retain_expired_flags_days": "do-not-pair and block rows, counted from their expiry",
    "retain_audit_days": "`settings_audit` and `erasure_audit`",
    "retention_interval_minutes": "how often `run` purges",
    "retention_batch_rows": "rows deleted per batch",
    "ticket_source": "where tickets come from: the product's tables, your HTTP service, or "
    "Redmine (docs/ticket-sources.md)",
    "ticket_source_url": "the service's or Redmine's base URL (no credentials or query); "
    "required by `http` and `redmine`",
    "ticket_source_token": "the service's bearer token, or the API key of a Redmine "
    "administrator (required by `redmine`)",
    "ticket_source_timeout_ms": "a live lookup or a call report waits this long at most",
    "ticket_pop_timeout_ms": "what a ringing agent's pop waits for ticket details before "
    'saying "ticket system unavailable"',
    "ticket_sync_timeout_seconds": "one sync of the mirror waits this long at most",
    "ticket_sync_interval_seconds": "the mirror asks for tickets updated since the last sync "
    "this often (and sends pending call reports)",
    "ticket_full_resync_minutes": "a full resync drops tickets the source no longer lists",
    "ticket_report_delay_seconds": "a finished call is reported this long after its end, so "
    "the wrap-up note goes with it",
    "redmine_project": "only this project's issues (its identifier; subprojects included); "
    "unset: every project the key sees",
    "redmine_public_url": "where agents open Redmine, for the pop's links (default: the "
    "source URL)",
    "redmine_phone_field": "the issue custom field holding the subscriber's number(s)",
    "redmine_account_field": "the field holding their account (empty: not used)",
    "redmine_customer_field": "the field holding their name (empty: not used)",
    "redmine_class_field": "the field holding their class (empty: not used)",
    "redmine_faults_field": "the field holding the last faults (empty: not used)",
    "redmine_promised_field": "a date field holding the promised-by day (empty: the issue's "
    "due date)",
    "redmine_pending_statuses": "comma-separated statuses read as pending (open, waiting on "
    "the customer)",
    "redmine_resolved_statuses": "comma-separated statuses read as resolved (not open work)",
    "redmine_write_as_agent": "call notes are written as the agent's Redmine user (else as the "
    "key's user)",
}

HEADER = f"""# Configuration reference

Written from the configuration model (`sticky_router/process/config.py`) by `sticky-router
config-reference`; a unit test fails when this file is out of date. The process reads `STICKY_*`
environment variables, and optionally a TOML file named by `{CONFIG_FILE_VARIABLE}` whose keys
are the names below without the prefix, in lower case (`db_budget_ms = 250`); environment
variables win. A bad value stops start-up with one sentence naming the variable. Secrets are
never printed, and an example's placeholder (`change-me...`) is refused.

| Variable | Type | Default | Meaning |
|---|---|---|---|
"""


def reference() -> str:
    rows = [_row(name, field) for name, field in Config.model_fields.items()]
    return HEADER + "\n".join(rows) + "\n" + _ami_user()


def _ami_user() -> str:
    filters = "\n".join(manager_conf_lines())
    return f"""
## The router's AMI user in `manager.conf`

The router reads a few AMI events of the classes `call` and `agent` and none of the rest
(`Newchannel`, `Newstate`, music on hold, bridges, device states: about half of what a queue
call sends). These lines in the user's section make Asterisk send only those, which spares the
router parsing, and Asterisk writing, the events nobody reads. Without them nothing is lost;
the router drops the rest unread and warns `ami_events_unfiltered` once per connection.
On FreePBX the section goes in `manager_custom.conf`.

```ini
[sticky-router]
secret = ...
read = call,agent,user
{filters}
```
"""


def write(path: Path) -> None:
    path.write_text(reference())


def _row(name: str, field: FieldInfo) -> str:
    variable = f"`{ENV_PREFIX}{name.upper()}`"
    return f"| {variable} | {_kind(field)} | {_default(field)} | {MEANINGS[name]} |"


def _kind(field: FieldInfo) -> str:
    annotation = field.annotation
    optional = False
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        optional, annotation = True, members[0]
    words = _type_word(annotation)
    # Field(ge=..., gt=..., le=...) keeps each bound as a metadata object with that attribute.
    bounds = [
        f"{sign} {getattr(m, attribute)}"
        for m in field.metadata
        for attribute, sign in (("ge", ">="), ("gt", ">"), ("le", "<="))
        if getattr(m, attribute, None) is not None
    ]
    if bounds:
        words += f" ({', '.join(bounds)})"
    return words + (", optional" if optional else "")


def _type_word(annotation: Any) -> str:
    if typing.get_origin(annotation) is Literal:
        return " \\| ".join(f"`{value}`" for value in typing.get_args(annotation))
    if annotation is SecretStr:
        return "secret"
    return {int: "integer", bool: "`true` \\| `false`", Path: "path", str: "text"}.get(
        annotation, str(annotation)
    )


def _default(field: FieldInfo) -> str:
    value = field.default
    if value is None:
        return "none"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if value == "":
        return "empty"
    return f"`{value}`"
