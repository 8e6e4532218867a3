"""`sticky-router purge` and `sticky-router forget-customer`: retention and erasure, by hand.

`purge` runs the router's retention job once (cron, or before a backup). `forget-customer`
erases one customer's personal data on request; the key names them by id, name, phone number
or account number, and a key that names several customers erases nothing.
"""

from __future__ import annotations

import argparse
import getpass
from datetime import UTC, datetime, timedelta

from sticky_router.process import database
from sticky_router.process.config import Config
from sticky_router.process.retention_job import RetentionJob
from sticky_router.routing_core.caller_key import normalise_number
from sticky_router.routing_core.store.erasure import (
    ErasureKey,
    ErasureRefused,
    KeyKind,
    forget_customer,
)
from sticky_router.routing_core.store.retention import RetentionPolicy

PRIVACY_COMMANDS = ("purge", "forget-customer")
KEY_KINDS: tuple[KeyKind, ...] = ("id", "name", "number", "account")


def retention_policy(config: Config) -> RetentionPolicy:
    return RetentionPolicy(
        calls_days=config.retain_calls_days,
        notes_days=config.retain_notes_days,
        pops_days=config.retain_pops_days,
        expired_flags_days=config.retain_expired_flags_days,
        audit_days=config.retain_audit_days,
        batch_rows=config.retention_batch_rows,
    )


def add_privacy_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    commands.add_parser(
        "purge",
        help="delete the personal data older than its retention (STICKY_RETAIN_*) and expired "
        "web sessions, once (the router does it every STICKY_RETENTION_INTERVAL_MINUTES)",
    )
    forget = commands.add_parser(
        "forget-customer",
        help="erase one customer's personal data (their calls stay, anonymous, for reports)",
    )
    key = forget.add_mutually_exclusive_group(required=True)
    key.add_argument("--id", help="the customer's id")
    key.add_argument("--name", help="the customer's name, exactly as stored")
    key.add_argument("--number", help="a phone number of theirs (any form the router reads)")
    key.add_argument("--account", help="their account number")
    forget.add_argument("--actor", default=None, help="who asks (default: the system user)")
    forget.add_argument(
        "--reference", default=None, help="the request's case number, e.g. DPO-2026-0042"
    )


async def run_privacy_command(config: Config, args: argparse.Namespace) -> None:
    if args.command == "purge":
        await _purge(config)
    else:
        await _forget(config, args)


async def _purge(config: Config) -> None:
    pool = await database.create_pool(config.session_database_url(), 2)
    try:
        job = RetentionJob(
            pool,
            retention_policy(config),
            session_idle=timedelta(minutes=config.web_session_idle_minutes),
        )
        rows = await job.run_once()
    finally:
        await pool.close()
    print("purged: " + ", ".join(f"{count} {kind}" for kind, count in rows.items()))


def erasure_key(args: argparse.Namespace, default_region: str) -> ErasureKey:
    kind = next(kind for kind in KEY_KINDS if getattr(args, kind) is not None)
    value: str | None = getattr(args, kind).strip()
    if kind == "number":
        value = normalise_number(value, default_region)
        if value is None:
            raise ErasureRefused("this is not a phone number the router could have stored")
    assert value is not None
    return ErasureKey(kind, value)


async def _forget(config: Config, args: argparse.Namespace) -> None:
    key = erasure_key(args, config.default_region)
    pool = await database.create_pool(config.session_database_url(), 2)
    try:
        erased = await forget_customer(
            pool,
            key,
            actor=args.actor or getpass.getuser(),
            now=datetime.now(UTC),
            reference=args.reference,
        )
    finally:
        await pool.close()
    print(
        "customer erased (calls kept without anything that names them): "
        + ", ".join(f"{count} {kind}" for kind, count in erased.items())
    )
