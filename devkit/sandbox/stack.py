"""The built-in local sandbox: Postgres with the demo data plus a real Asterisk 22, on loopback.

`sticky-router run` with no Asterisk and no database configured starts this and the router
against it. The end-to-end tests build the same stack from throwaway parts on free ports.
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import asyncpg

from devkit.demo import seed_demo
from devkit.sandbox.asterisk import LocalAsterisk, throwaway_asterisk, throwaway_instance
from devkit.sandbox.asterisk_config import (
    AGENTS,
    ARI_APP,
    FREEPBX_AGI_DID,
    SOFTPHONE,
    agent_identity,
)
from devkit.sandbox.postgres import LocalPostgres, cache_dir, throwaway_postgres
from sticky_router.process import database
from sticky_router.process.agi_process import AgiProcessSettings
from sticky_router.process.router import RouterSettings

SANDBOX_POSTGRES_PORT = 55432
SCENARIOS = "tests/sipp"  # the SIPp scenarios a newcomer runs, from the checkout


def _scratch_journals() -> Path:
    return Path(tempfile.mkdtemp(prefix="sticky-journal-"))


@dataclass
class Sandbox:
    postgres: LocalPostgres
    asterisk: LocalAsterisk
    # Where the router and the FastAGI server keep their call journals (one file each).
    journal_dir: Path = field(default_factory=_scratch_journals)

    def router_settings(
        self, default_region: str = "RU", db_budget_ms: int = 300
    ) -> RouterSettings:
        ari, ami = self.asterisk.ari_credentials, self.asterisk.ami_credentials
        return RouterSettings(
            database_url=self.postgres.dsn,
            ari_url=f"http://127.0.0.1:{self.asterisk.http_port}",
            ari_user=ari.user,
            ari_password=ari.password,
            ari_app=ARI_APP,
            default_region=default_region,
            db_budget_seconds=db_budget_ms / 1000,
            ami_port=self.asterisk.ami_port,
            ami_user=ami.user,
            ami_password=ami.password,
            journal_path=self.journal_dir / "router.journal",
            queue_log_path=self.asterisk.instance_dir / "log" / "queue_log",
            node=self.asterisk.system_name or None,
        )

    def agi_settings(
        self, default_region: str = "RU", db_budget_ms: int = 300
    ) -> AgiProcessSettings:
        """The FastAGI server where the sandbox's dialplan looks for it (STICKY_AGI_URL). No AMI
        learner: the router's own already records every call of this Asterisk."""
        return AgiProcessSettings(
            database_url=self.postgres.dsn,
            port=self.asterisk.agi_port,
            secret=self.asterisk.live_agi_secret,
            default_region=default_region,
            db_budget_seconds=db_budget_ms / 1000,
            journal_path=self.journal_dir / "agi.journal",
            node=self.asterisk.system_name or None,
        )

    def how_to_call(self) -> str:
        """What a newcomer types to place a call into the sandbox."""
        server = self.asterisk
        scenarios = SCENARIOS
        return "\n".join(
            [
                f"Asterisk {server.name}: SIP on 127.0.0.1:{server.sip_port}, "
                f"ARI http://127.0.0.1:{server.http_port}/ari, AMI 127.0.0.1:{server.ami_port}",
                f"PostgreSQL: {self.postgres.dsn}",
                "",
                "Be agent2's phone (answers after 2 s, in another terminal):",
                f"  sipp -sf {scenarios}/uas_answer.xml -i 127.0.0.1 -p "
                f"{server.agent_port(2)} -d 2000 -m 1",
                "Call as Ivan Petrov (last spoke with agent2 42 minutes ago):",
                f"  sipp 127.0.0.1:{server.sip_port} -sf {scenarios}/uac.xml -i 127.0.0.1 "
                f"-p {server.caller_port} -s 74950000000 -key caller 79123456701 -d 5000 -m 1",
                "The same call through FastAGI (the AGI-mode dialplan) instead of ARI:",
                f"  sipp 127.0.0.1:{server.sip_port} -sf {scenarios}/uac.xml -i 127.0.0.1 "
                f"-p {server.caller_port} -s {self._agi_number()} -key caller 79123456701 "
                "-d 5000 -m 1",
                *self._flavour_lines(),
                "Agents 1-4 answer on ports "
                f"{server.agent_port(1)}-{server.agent_port(4)}; callers must send from port "
                f"{server.caller_port}. A softphone: register nothing, send INVITEs from "
                f"127.0.0.1:{server.caller_port} to sip:74950000000@127.0.0.1:{server.sip_port}.",
            ]
        )

    def _agi_number(self) -> str:
        """What a caller dials for the AGI-mode dialplan: on FreePBX, the number whose inbound
        route goes to the FastAGI custom destination."""
        return FREEPBX_AGI_DID if self.asterisk.flavour == "freepbx" else "agi"

    def _flavour_lines(self) -> list[str]:
        server = self.asterisk
        if server.flavour != "freepbx":
            return []
        return [
            f"FreePBX-style: queue {server.queue}, agents are its members Local/10N@from-queue/n, "
            "rung by the router through Local/10N@from-queue-exten-only/n, their state the hint "
            "of 10N; calls come in through an inbound route and a custom destination; agent2 "
            f"has a second phone, a softphone answering on port {server.agent_port(SOFTPHONE)}:",
            f"  sipp -sf {SCENARIOS}/uas_answer.xml -i 127.0.0.1 -p "
            f"{server.agent_port(SOFTPHONE)} -d 2000 -m 1",
        ]


def prepare_database(dsn: str, flavour: str = "plain") -> dict[str, int]:
    """Migrate and (re)load the demo data: the sandbox starts from the same story every time,
    its agents known the way the flavour's PBX knows them."""
    database.upgrade(dsn)

    async def seed() -> dict[str, int]:
        pool = await database.create_pool(dsn, 2)
        try:
            loaded = await seed_demo(pool, datetime.now(UTC), reset=True)
            await identify_agents(pool, flavour)
            return loaded
        finally:
            await pool.close()

    return asyncio.run(seed())


async def identify_agents(pool: asyncpg.Pool, flavour: str) -> None:
    """The demo agents as an admin of a line of this flavour sets them up (on FreePBX: the Local
    channel to dial, the hint, the phones behind it; docs/pbx-flavours.md)."""
    for agent in AGENTS:
        known = agent_identity(agent, flavour)
        await pool.execute(
            "UPDATE agents SET endpoint = $2, queue_interface = $3, state_interface = $4,"
            " devices = $5 WHERE name = $1",
            agent, known.endpoint, known.queue_interface, known.state_interface,
            list(known.devices),
        )  # fmt: skip


@contextlib.contextmanager
def local_sandbox(
    postgres_port: int = SANDBOX_POSTGRES_PORT, flavour: str = "plain"
) -> Iterator[Sandbox]:
    """Postgres (in the cache, kept between runs) and the `sandbox` Asterisk on their default
    ports, its queue members of this flavour; both stop when the block ends."""
    postgres = LocalPostgres(data_dir=cache_dir() / "sandbox-postgres", port=postgres_port)
    asterisk = LocalAsterisk(name="sandbox", flavour=flavour)
    postgres.start()
    try:
        prepare_database(postgres.dsn, flavour)
        with asterisk:
            yield Sandbox(postgres, asterisk, cache_dir() / "sandbox-journal")
    finally:
        postgres.stop()


@contextlib.contextmanager
def throwaway_sandbox(
    prefix: str, phone_ports_from: int, flavour: str = "plain"
) -> Iterator[Sandbox]:
    """A PostgreSQL (migrated, empty) and an Asterisk on free ports for one test suite; both
    deleted afterwards. Suites that may run at the same time pass different `phone_ports_from`.
    `flavour`: how agents are queue members (sandbox/asterisk.py FLAVOURS)."""
    with (
        throwaway_postgres() as postgres,
        throwaway_asterisk(prefix, phone_ports_from=phone_ports_from, flavour=flavour) as asterisk,
    ):
        database.upgrade(postgres.dsn)
        yield Sandbox(postgres, asterisk)


# Each node's phones get their own block of ports: SIPp phones bind them only when a test starts
# them, so two nodes probing for free ports at once would both find the same block free.
NODE_PHONE_PORTS_APART = 20


@contextlib.contextmanager
def throwaway_nodes(
    prefix: str, phone_ports_from: int, names: tuple[str, ...] = ("node-a", "node-b")
) -> Iterator[list[Sandbox]]:
    """Several Asterisk nodes of one support line on one PostgreSQL (migrated, empty), for one
    test suite: each node its own chroot process, ports and `systemname` (so its Uniqueids carry
    it), each with the sandbox's agents and queues and a trunk to every other node (named after
    it, calls entering sticky-from-nodes). One `Sandbox` per node, sharing the database, each
    with its own journal directory: a router per node."""
    servers = [
        throwaway_instance(
            f"{prefix}-{name}",
            phone_ports_from=phone_ports_from + index * NODE_PHONE_PORTS_APART,
            system_name=name,
        )
        for index, name in enumerate(names)
    ]
    for server in servers:
        server.peer_nodes = {
            other.system_name: other.sip_port for other in servers if other is not server
        }
    with contextlib.ExitStack() as stack:
        postgres = stack.enter_context(throwaway_postgres())
        database.upgrade(postgres.dsn)
        nodes = [Sandbox(postgres, stack.enter_context(server)) for server in servers]
        yield nodes
