"""`sticky-router`: the one console command, with a subcommand per job."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

import asyncpg
from sqlalchemy.exc import SQLAlchemyError

from routing_core import IncomingCall, RoutingService, explain
from routing_core.decision import Decision, QueueDecision, StickyDecision
from sticky_router import database
from sticky_router.config import Config, ConfigError, load_config
from sticky_router.demo import seed_demo
from sticky_router.logs import configure_logging


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sticky-router",
        description="Sticky routing for Asterisk: callbacks reach the agent who last helped.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    migrate = commands.add_parser("migrate", help="upgrade the database schema")
    migrate.add_argument("--revision", default="head", help="target revision (default: head)")

    seed = commands.add_parser("seed-demo", help="load demo agents, customers and call history")
    seed.add_argument("--reset", action="store_true", help="wipe routing data first")

    decide = commands.add_parser(
        "decide", help="explain the decision for a call, without placing or recording it"
    )
    decide.add_argument("--cli", default=None, help="caller ID as Asterisk would hand it over")
    decide.add_argument("--did", default=None, help="the dialled number")
    decide.add_argument("--queue", default="support", help="the queue (default: support)")
    decide.add_argument("--account", default=None, help="account number keyed in the IVR")
    decide.add_argument("--ticket", default=None, help="ticket number keyed in the IVR")
    decide.add_argument("--at", type=_timestamp, default=None, help="ISO time (default: now)")
    decide.add_argument("--json", action="store_true", help="print the decision as JSON")
    return parser


def _timestamp(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


async def _migrate(config: Config, revision: str) -> None:
    await asyncio.to_thread(database.upgrade, config.require_database_url(), revision)
    print(f"database schema at {revision}")


async def _seed(config: Config, reset: bool) -> None:
    pool = await database.create_pool(config.require_database_url(), 2)
    try:
        counts = await seed_demo(pool, datetime.now(UTC), reset=reset)
    finally:
        await pool.close()
    print("demo loaded: " + ", ".join(f"{count} {what}" for what, count in counts.items()))


async def _decide(config: Config, args: argparse.Namespace) -> None:
    pool = await database.create_pool(config.require_database_url(), 2)
    try:
        service = RoutingService(
            pool,
            default_region=config.default_region,
            db_budget_seconds=config.db_budget_ms / 1000,
        )
        call = IncomingCall(
            call_id=f"cli-{uuid.uuid4()}",
            caller_id=args.cli,
            at=args.at or datetime.now(UTC),
            queue=args.queue,
            did=args.did,
            ivr_ticket=args.ticket,
            ivr_account=args.account,
        )
        decision = await service.decide(call, claim=False)
    finally:
        await pool.close()
    if args.json:
        print(json.dumps(_as_json(decision), indent=2, ensure_ascii=False))
    else:
        print("\n".join(explain(decision)))


def _as_json(decision: Decision) -> dict[str, object]:
    context = decision.context
    body: dict[str, object] = {
        "route": decision.route.value,
        "key": str(context.key) if context.key else None,
        "customers": [c.name for c in context.identity.customers],
        "ticket": context.identity.ticket.external_id if context.identity.ticket else None,
        "settings": context.settings.values.model_dump(mode="json"),
        "explanation": explain(decision),
    }
    if isinstance(decision, StickyDecision):
        body["candidates"] = [
            {"agent": c.agent.name, "endpoint": c.agent.endpoint, "reason": c.reason.value}
            for c in decision.candidates
        ]
    if isinstance(decision, QueueDecision):
        body["reason"] = decision.reason.value
    return body


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        config = load_config()
        configure_logging(config.log_level, config.log_format)
        if args.command == "migrate":
            asyncio.run(_migrate(config, args.revision))
        elif args.command == "seed-demo":
            asyncio.run(_seed(config, args.reset))
        elif args.command == "decide":
            asyncio.run(_decide(config, args))
    except ConfigError as error:
        print(f"sticky-router: configuration error: {error}", file=sys.stderr)
        return 2
    except (OSError, RuntimeError, asyncpg.PostgresError, SQLAlchemyError) as error:
        # One line for the operator; asyncpg's and Alembic's messages never carry the password.
        print(f"sticky-router: {args.command} failed: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
