"""The commands that need the development kit (devkit/, a checkout's, never the wheel's): `run`
without an Asterisk of one's own (the local sandbox), `seed-demo` and `demo`. Each reaches the kit
only through `development_kit(...)`, which tells an operator's installation in one sentence that
the kit comes with a checkout.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from sticky_router.process import database
from sticky_router.process.agi_process import AgiProcessSettings
from sticky_router.process.config import Config
from sticky_router.process.development_kit import development_kit
from sticky_router.process.privacy_cli import retention_policy
from sticky_router.process.router import RouterSettings
from sticky_router.routing_core import IncomingCall, RoutingService, explain
from sticky_router.web.settings import WebSettings

DEMO_COMMANDS = ("seed-demo", "demo")
SANDBOX_PORT = 55432

Serve = Callable[[RouterSettings, AgiProcessSettings], None]


def add_demo_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    seed = commands.add_parser("seed-demo", help="load demo agents, customers and call history")
    seed.add_argument("--reset", action="store_true", help="wipe routing data first")
    seed.add_argument(
        "--if-empty", action="store_true",
        help="load only into a database without agents; otherwise leave it as it is",
    )  # fmt: skip

    demo = commands.add_parser(
        "demo",
        help="start a local Postgres with the demo data and explain every demo caller's decision",
    )
    demo.add_argument("--port", type=int, default=SANDBOX_PORT, help="default: %(default)s")
    demo.add_argument("--keep", action="store_true", help="leave the database running for `decide`")
    demo.add_argument(
        "--data-dir", type=Path, default=None, help="default: sandbox-postgres in the cache"
    )


def run_demo_command(config: Config, args: argparse.Namespace) -> None:
    if args.command == "seed-demo":
        asyncio.run(_seed(config, args.reset, args.if_empty))
    elif args.command == "demo":
        _demo(config, args.data_dir, args.port, args.keep)


def run_on_sandbox(config: Config, flavour: str, web: WebSettings | None, serve: Serve) -> None:
    """`sticky-router run` with neither STICKY_ARI_URL nor STICKY_DATABASE_URL: the router and
    the FastAGI server on the local sandbox, until `serve` returns (Ctrl-C)."""
    # Development tooling, loaded only here: a deployment's router never imports it.
    with development_kit("The local sandbox"):
        from devkit.sandbox.stack import local_sandbox
        from devkit.sandbox.ticket_sandbox import sandbox_ticket_source

    print(f"No STICKY_ARI_URL or STICKY_DATABASE_URL: starting the local sandbox ({flavour}) ...")
    with (
        local_sandbox(flavour=flavour) as sandbox,
        sandbox_ticket_source(config) as ticket_system,
    ):
        print(sandbox.how_to_call())
        print(ticket_system.how_to_use)
        print("\nThe router is running; Ctrl-C stops it, Asterisk and PostgreSQL.\n")
        settings = sandbox.router_settings(config.default_region, config.db_budget_ms)
        # Any ticket source works in the sandbox too; `redmine` without a URL is a local one.
        tickets = ticket_system.settings
        settings = dataclasses.replace(
            settings,
            web=web,
            retention=retention_policy(config),
            tickets=tickets,
        )
        if settings.web is not None:
            print(sandbox_sign_in(sandbox.postgres.dsn, settings.web))
        agi = sandbox.agi_settings(config.default_region, config.db_budget_ms)
        agi = dataclasses.replace(agi, tickets=tickets)
        serve(settings, agi)


def sandbox_sign_in(dsn: str, web: WebSettings) -> str:
    """Sandbox only: fresh demo passwords, for this console (never for the log)."""
    with development_kit("The sandbox's sign-in"):
        from devkit.demo import demo_credentials

    async def make() -> dict[str, tuple[str, str]]:
        pool = await database.create_pool(dsn, 2)
        try:
            return dict(await demo_credentials(pool))
        finally:
            await pool.close()

    credentials = asyncio.run(make())
    lines = [
        "",
        f"Agent screen: {web.base_url}/agent/  (admin pages: {web.base_url}/admin/)",
        "Demo sign-in (new passwords on every start):",
    ]
    lines += [f"  {kind:5} {name:10} {password}" for name, (kind, password) in credentials.items()]
    return "\n".join(lines)


async def _seed(config: Config, reset: bool, if_empty: bool) -> None:
    with development_kit("The demo data"):
        from devkit.demo import seed_demo
    pool = await database.create_pool(config.session_database_url(), 2)
    try:
        if if_empty and not reset and await pool.fetchval("SELECT count(*) FROM agents"):
            print("demo not loaded: the database has agents already (kept as it is)")
            return
        counts = await seed_demo(pool, datetime.now(UTC), reset=reset)
    finally:
        await pool.close()
    print("demo loaded: " + ", ".join(f"{count} {what}" for what, count in counts.items()))


def _demo(config: Config, data_dir: Path | None, port: int, keep: bool) -> None:
    """The built-in sandbox of this foundation: the routing core on a real, local Postgres."""
    with development_kit("The demo"):
        from devkit.sandbox.postgres import LocalPostgres, cache_dir

    server = LocalPostgres(data_dir=data_dir or cache_dir() / "sandbox-postgres", port=port)
    print(f"starting PostgreSQL in {server.data_dir} on 127.0.0.1:{port}")
    server.start()
    try:
        database.upgrade(server.dsn)
        asyncio.run(_show_demo(config, server.dsn))
    finally:
        if keep:
            print(f"\nPostgreSQL keeps running. Try:\n  export STICKY_DATABASE_URL={server.dsn}")
            print("  sticky-router decide --cli '+7 912 345-67-01'")
        else:
            server.stop()


async def _show_demo(config: Config, url: str) -> None:
    with development_kit("The demo"):
        from devkit.demo import CUSTOMERS, seed_demo

    pool = await database.create_pool(url, 2)
    try:
        now = datetime.now(UTC)
        await seed_demo(pool, now, reset=True)
        service = RoutingService(
            pool, default_region=config.default_region, db_budget_seconds=config.db_budget_ms / 1000
        )
        for customer in CUSTOMERS:
            call = IncomingCall(f"demo-{uuid.uuid4()}", customer.numbers[0], now, "support")
            decision = await service.decide(call, claim=False)
            print(f"\n== {customer.name} calls from {customer.numbers[0]}: {customer.story}")
            print("\n".join(f"   {line}" for line in explain(decision)))
    finally:
        await pool.close()
