"""`sticky-router generate-history` and `simulate`: the what-if preview on the console.

Kept out of cli.py so that the console command stays one small dispatcher.
"""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from sticky_router.process import database
from sticky_router.process.development_kit import development_kit
from sticky_router.routing_core.settings import InvalidSetting, Scope, ScopedValue, validate_setting
from sticky_router.routing_core.simulation_report import side_by_side
from sticky_router.routing_core.store.replay import run_replay_in_processes

SIMULATION_COMMANDS = ("generate-history", "simulate")


def setting(text: str) -> tuple[str, Any]:
    """`key=value`; the value is read as JSON when it is JSON (240, true), else as text."""
    key, sign, raw = text.partition("=")
    if not sign or not key:
        raise argparse.ArgumentTypeError(f"expected key=value, got {text!r}")
    try:
        value: Any = json.loads(raw)
    except ValueError:
        value = raw
    try:
        return key, validate_setting(key.strip(), value)
    except InvalidSetting as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def scope(text: str) -> tuple[Scope, str | None]:
    """`global`, or `queue:NAME`, `did:NUMBER`, `customer_class:NAME`."""
    kind, _, value = text.partition(":")
    try:
        parsed = Scope(kind)
    except ValueError:
        names = ", ".join(s.value for s in Scope if s is not Scope.DEFAULT)
        raise argparse.ArgumentTypeError(f"unknown scope {kind!r}; scopes: {names}") from None
    if parsed is Scope.DEFAULT:
        raise argparse.ArgumentTypeError("the default scope is built in; use global")
    if parsed is Scope.GLOBAL:
        if value:
            raise argparse.ArgumentTypeError("the global scope takes no value")
        return parsed, None
    if not value:
        raise argparse.ArgumentTypeError(f"scope {kind!r} needs a value, e.g. {kind}:NAME")
    return parsed, value


def moment(text: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO date or time: {text!r}") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def add_simulation_commands(commands: Any) -> None:
    generate = commands.add_parser(
        "generate-history",
        help="write a synthetic support line's agents, customers and call history (demo, bench)",
    )
    generate.add_argument("--agents", type=int, default=50, help="default: %(default)s")
    generate.add_argument("--days", type=int, default=365, help="default: %(default)s")
    generate.add_argument("--seed", type=int, default=1, help="default: %(default)s")
    generate.add_argument(
        "--start", type=moment, default=None, help="first day (default: DAYS before today)"
    )
    generate.add_argument("--reset", action="store_true", help="wipe routing data first")

    simulate = commands.add_parser(
        "simulate",
        help="replay the recorded calls under candidate settings, next to the settings in force",
    )
    simulate.add_argument(
        "--set",
        dest="changes",
        type=setting,
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a candidate setting, e.g. window_minutes=240 (repeatable)",
    )
    simulate.add_argument(
        "--scope",
        type=scope,
        default=(Scope.GLOBAL, None),
        help="where the candidate settings apply: global (default), queue:NAME, did:NUMBER, "
        "customer_class:NAME",
    )
    simulate.add_argument("--since", type=moment, default=None, help="ISO date (default: all)")
    simulate.add_argument("--until", type=moment, default=None, help="ISO date, exclusive")


async def run_simulation_command(database_url: str, args: argparse.Namespace) -> None:
    pool = await database.create_pool(database_url, 2)
    try:
        if args.command == "generate-history":
            start = args.start or _days_ago(args.days)
            # A synthetic line for demos and the bench: loaded only for this command.
            with development_kit("The synthetic history"):
                from devkit.synthetic_history import HistoryShape, generate_history

            shape = HistoryShape(agents=args.agents, days=args.days, seed=args.seed, start=start)
            counts = await generate_history(pool, shape, reset=args.reset, progress=print)
            print(
                f"generated {counts.interactions:,} calls ({counts.callbacks:,} callbacks, "
                f"{counts.abandoned:,} abandoned), {counts.legs:,} agent legs, {counts.agents} "
                f"agents, {counts.customers:,} customers, {counts.tickets:,} tickets "
                f"in {counts.seconds:.1f} s"
            )
            return
        scope_kind, scope_value = args.scope
        candidate = [ScopedValue(scope_kind, scope_value, k, v) for k, v in args.changes]
        report = await run_replay_in_processes(
            database_url, candidate, since=args.since, until=args.until
        )
        changes = ", ".join(f"{k}={json.dumps(v)}" for k, v in args.changes) or "none"
        where = scope_kind.value + (f" {scope_value}" if scope_value else "")
        print(f"candidate settings ({where}): {changes}")
        print(side_by_side(report))
        print(f"\nreplayed in {report.seconds:.1f} s")
    finally:
        await pool.close()


def _days_ago(days: int) -> datetime:
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return today - timedelta(days=days)
