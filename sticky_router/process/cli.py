"""`sticky-router`: the one console command, with a subcommand per job."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import getpass
import json
import signal
import subprocess
import sys
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import asyncpg
from sqlalchemy.exc import SQLAlchemyError

from sticky_router.ami.connection import AmiSettings
from sticky_router.process import database
from sticky_router.process.agi_process import AgiProcessSettings, serve_agi_process
from sticky_router.process.config import Config, ConfigError, load_config
from sticky_router.process.config_reference import reference
from sticky_router.process.demo_cli import (
    DEMO_COMMANDS,
    add_demo_commands,
    run_demo_command,
    run_on_sandbox,
)
from sticky_router.process.development_kit import SANDBOX_FLAVOURS, DevelopmentKitMissing
from sticky_router.process.event_loop import run_service
from sticky_router.process.logs import configure_logging
from sticky_router.process.privacy_cli import (
    PRIVACY_COMMANDS,
    add_privacy_commands,
    retention_policy,
    run_privacy_command,
)
from sticky_router.process.prompts import (
    PromptToolsMissing,
    add_prompt_command,
    run_prompt_command,
)
from sticky_router.process.router import RouterSettings, serve
from sticky_router.process.simulation_cli import (
    SIMULATION_COMMANDS,
    add_simulation_commands,
    run_simulation_command,
)
from sticky_router.process.ticket_source import TicketSourceSettings, mirror_name
from sticky_router.routing_core import IncomingCall, RoutingService, explain
from sticky_router.routing_core.decision import Decision, QueueDecision, StickyDecision
from sticky_router.routing_core.store.erasure import ErasureRefused
from sticky_router.tickets_http.openapi import contract_openapi
from sticky_router.web.auth.accounts import UnknownAccount, add_admin, set_password
from sticky_router.web.auth.passwords import WeakPassword
from sticky_router.web.auth.sessions import Kind
from sticky_router.web.settings import WebSettings


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sticky-router",
        description="Sticky routing for Asterisk: callbacks reach the agent who last helped.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser(
        "run",
        help="route calls: against your Asterisk and database when STICKY_ARI_URL and "
        "STICKY_DATABASE_URL are set, else on the built-in local sandbox",
    )
    run.add_argument(
        "--sandbox-flavour", choices=SANDBOX_FLAVOURS, default="plain",
        help="the sandbox's queue members: plain (PJSIP endpoints) or freepbx (Local members "
        "with hints, agent2 with two phones; docs/pbx-flavours.md)",
    )  # fmt: skip

    agi = commands.add_parser(
        "agi",
        help="serve the sticky decision over FastAGI to a classic dialplan "
        "(dialplan/sticky-router-agi.conf); needs STICKY_DATABASE_URL",
    )
    agi.add_argument("--host", default=None, help="listen address (default: STICKY_AGI_HOST)")
    agi.add_argument("--port", type=int, default=None, help="default: STICKY_AGI_PORT (4573)")

    migrate = commands.add_parser("migrate", help="upgrade the database schema")
    migrate.add_argument("--revision", default="head", help="target revision (default: head)")

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

    password = commands.add_parser(
        "set-password",
        help="set an agent's or admin's web sign-in password (read from stdin or a prompt)",
    )
    password.add_argument("kind", choices=("agent", "admin"))
    password.add_argument("name", help="the agent's or admin's name")

    admin = commands.add_parser("add-admin", help="create an admin for the admin pages")
    admin.add_argument("name", help="sign-in name (letters, digits, . _ @ -)")
    admin.add_argument("--display-name", default=None, help="default: the name")
    commands.add_parser(
        "ticket-contract",
        help="print the HTTP ticket source's contract (OpenAPI 3.1) for the service you write",
    )
    commands.add_parser(
        "config-reference", help="print every STICKY_* setting (docs/configuration.md)"
    )
    add_demo_commands(commands)
    add_simulation_commands(commands)
    add_privacy_commands(commands)
    add_prompt_command(commands)
    return parser


def web_settings(config: Config) -> WebSettings | None:
    if not config.web_enabled:
        return None
    return WebSettings(
        host=config.web_host,
        port=config.web_port,
        allowed_origins=config.web_origin_list(),
        cookie_secure=config.web_cookie_secure,
        session_idle=timedelta(minutes=config.web_session_idle_minutes),
        session_absolute=timedelta(hours=config.web_session_hours),
        trusted_proxies=config.web_trusted_proxy_networks(),
        agent_access=timedelta(hours=config.agent_access_hours),
    )


def _run(config: Config, flavour: str = "plain") -> None:
    if config.ari_url is None and config.database_url is None:

        def serve_both(settings: RouterSettings, agi: AgiProcessSettings) -> None:
            run_service(_serve(settings, agi), config.event_loop)

        run_on_sandbox(config, flavour, web_settings(config), serve_both)
        return
    ari_url, ari_password = config.require_asterisk()
    settings = RouterSettings(
        database_url=config.require_database_url(),
        database_direct_url=config.require_direct_database_url(),
        ari_url=ari_url,
        ari_user=config.ari_user,
        ari_password=ari_password,
        ari_app=config.ari_app,
        default_region=config.default_region,
        db_budget_seconds=config.db_budget_ms / 1000,
        db_pool_size=config.db_pool_size,
        web_db_pool_size=config.web_db_pool_size,
        queue_context=config.queue_context,
        node=config.node or None,
        ami_host=config.ami_host,
        ami_port=config.ami_port,
        ami_user=config.ami_user,
        ami_password=config.ami_password.get_secret_value() if config.ami_password else None,
        web=web_settings(config),
        journal_path=config.journal_dir / "router.journal",
        journal_max_events=config.journal_max_events,
        queue_log_path=config.queue_log_path,
        retention=retention_policy(config),
        retention_interval_seconds=config.retention_interval_minutes * 60,
        tickets=TicketSourceSettings.from_config(config),
    )
    run_service(_serve(settings), config.event_loop)


async def _serve(settings: RouterSettings, agi: AgiProcessSettings | None = None) -> None:
    """The router, and in the sandbox the FastAGI server beside it, until SIGINT/SIGTERM."""
    stop = _stop_on_signals()
    if agi is None:
        await serve(settings, stop)
    else:
        await asyncio.gather(serve(settings, stop), serve_agi_process(agi, stop))


def _agi(config: Config, host: str | None, port: int | None) -> None:
    ami = None
    if config.ami_password is not None:
        ami = AmiSettings(
            config.ami_host,
            config.ami_port,
            config.ami_user,
            config.ami_password.get_secret_value(),
        )
    settings = AgiProcessSettings(
        database_url=config.require_database_url(),
        database_direct_url=config.require_direct_database_url(),
        host=host or config.agi_host,
        port=port or config.agi_port,
        allowed_peers=config.agi_allowed_peers,
        secret=config.require_agi_secret(),
        max_connections=config.agi_max_connections,
        metrics_port=config.agi_metrics_port or None,
        default_region=config.default_region,
        db_budget_seconds=config.db_budget_ms / 1000,
        db_pool_size=config.db_pool_size,
        ami=ami,
        node=config.node or None,
        journal_max_events=config.journal_max_events,
        queue_log_path=config.queue_log_path,
        tickets=TicketSourceSettings.from_config(config),
    )
    # One journal per FastAGI process: two of them on one host listen on different ports.
    settings = dataclasses.replace(
        settings, journal_path=config.journal_dir / f"agi-{settings.port}.journal"
    )

    async def run() -> None:
        await serve_agi_process(settings, _stop_on_signals())

    run_service(run(), config.event_loop)


def _stop_on_signals() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signal_number in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signal_number, stop.set)
    return stop


def _timestamp(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _read_password() -> str:
    """From a prompt on a terminal, else the first line of stdin: never from the command line,
    where it would stay in the shell history and the process list."""
    if sys.stdin.isatty():
        first = getpass.getpass("New password: ")
        if getpass.getpass("Again: ") != first:
            raise ConfigError("the two passwords differ; nothing was changed")
        return first
    return sys.stdin.readline().rstrip("\r\n")


async def _set_password(config: Config, kind: Kind, name: str) -> None:
    password = _read_password()
    pool = await database.create_pool(config.session_database_url(), 2)
    try:
        await set_password(pool, kind, name, password)
    finally:
        await pool.close()
    print(f"password set for {kind} {name}; their open sessions were ended")


async def _add_admin(config: Config, name: str, display_name: str | None) -> None:
    pool = await database.create_pool(config.session_database_url(), 2)
    try:
        created = await add_admin(pool, name, display_name)
    finally:
        await pool.close()
    if not created:
        raise ConfigError(f"an admin named {name!r} exists already")
    print(f"admin {name} created; set a password: sticky-router set-password admin {name}")


async def _migrate(config: Config, revision: str) -> None:
    await asyncio.to_thread(database.upgrade, config.session_database_url(), revision)
    print(f"database schema at {revision}")


async def _decide(config: Config, args: argparse.Namespace) -> None:
    pool = await database.create_pool(config.session_database_url(), 2)
    try:
        service = RoutingService(
            pool,
            default_region=config.default_region,
            db_budget_seconds=config.db_budget_ms / 1000,
            ticket_mirror=mirror_name(TicketSourceSettings.from_config(config)),
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
    if args.command == "config-reference":  # needs no configuration: it describes it
        print(reference(), end="")
        return 0
    if args.command == "prompts":  # needs no configuration either: files for Asterisk
        try:
            run_prompt_command(args)
        except (OSError, PromptToolsMissing, subprocess.CalledProcessError) as error:
            print(f"sticky-router: prompts failed: {error}", file=sys.stderr)
            return 1
        return 0
    try:
        config = load_config()
        configure_logging(config.log_level, config.log_format)
        if args.command == "run":
            _run(config, args.sandbox_flavour)
        elif args.command == "agi":
            _agi(config, args.host, args.port)
        elif args.command == "migrate":
            asyncio.run(_migrate(config, args.revision))
        elif args.command in DEMO_COMMANDS:
            if args.command == "demo":
                configure_logging("warning", config.log_format)  # the explanations say it all
            run_demo_command(config, args)
        elif args.command == "decide":
            asyncio.run(_decide(config, args))
        elif args.command == "set-password":
            asyncio.run(_set_password(config, args.kind, args.name))
        elif args.command == "add-admin":
            asyncio.run(_add_admin(config, args.name, args.display_name))
        elif args.command == "ticket-contract":
            print(json.dumps(contract_openapi(), indent=2))
        elif args.command in SIMULATION_COMMANDS:
            asyncio.run(run_simulation_command(config.session_database_url(), args))
        elif args.command in PRIVACY_COMMANDS:
            asyncio.run(run_privacy_command(config, args))
    except ConfigError as error:
        print(f"sticky-router: configuration error: {error}", file=sys.stderr)
        return 2
    except (WeakPassword, UnknownAccount, ErasureRefused, DevelopmentKitMissing) as error:
        print(f"sticky-router: {args.command}: {error}", file=sys.stderr)
        return 2
    except (OSError, RuntimeError, asyncpg.PostgresError, SQLAlchemyError) as error:
        # One line for the operator; asyncpg's and Alembic's messages never carry the password.
        print(f"sticky-router: {args.command} failed: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
