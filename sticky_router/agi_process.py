"""The FastAGI process (`sticky-router agi`): the AGI server with its pool, and AMI learning.

The same routing core and recorder as the ARI router, so a dialplan-only PBX gets the same
decision; the AMI learner, when configured, also records transfers, which the AGI hooks cannot
see. `stop` ends it: Asterisk's AGI() calls under way finish, then the writes aside.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import asyncpg
import structlog

from agi.scripts import AgiScripts
from agi.server import AgiServer
from ari_app.ami_connection import AmiLearner, AmiSettings
from routing_core import CallRecorder, RoutingService
from sticky_router import database

log = structlog.get_logger("sticky_router.agi_process")


@dataclass(frozen=True)
class AgiProcessSettings:
    """Passwords are plain strings here, so keep this out of logs: the repr hides them."""

    database_url: str
    host: str = "127.0.0.1"
    port: int = 4573
    max_connections: int = 200
    default_region: str = "RU"
    db_budget_seconds: float = 0.3
    db_pool_size: int = 10
    ami: AmiSettings | None = None

    def __repr__(self) -> str:
        return f"AgiProcessSettings(host={self.host!r}, port={self.port})"


class AgiProcess:
    def __init__(self, settings: AgiProcessSettings) -> None:
        self.settings = settings
        self.server: AgiServer | None = None
        self.learner: AmiLearner | None = None
        self._scripts: AgiScripts | None = None
        self._pool: asyncpg.Pool | None = None

    async def start(self) -> None:
        settings = self.settings
        pool = await database.create_pool(settings.database_url, settings.db_pool_size)
        self._pool = pool
        routing = RoutingService(
            pool,
            default_region=settings.default_region,
            db_budget_seconds=settings.db_budget_seconds,
        )
        recorder = CallRecorder(pool)
        self._scripts = AgiScripts(routing, recorder)
        self.server = AgiServer(
            self._scripts.handlers(),
            settings.host,
            settings.port,
            max_connections=settings.max_connections,
        )
        await self.server.start()
        if settings.ami is not None:
            self.learner = AmiLearner(settings.ami, recorder)
            self.learner.start()
        log.info("agi_started", host=settings.host, port=self.server.port)

    async def stop(self) -> None:
        if self.server is not None:
            await self.server.stop()
            self.server = None
        if self._scripts is not None:
            await self._scripts.drain()
        if self.learner is not None:
            await self.learner.stop()
            self.learner = None
        if self._pool is not None:
            await self._pool.close()
            self._pool = None
        log.info("agi_stopped")

    async def __aenter__(self) -> AgiProcess:
        await self.start()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.stop()


async def serve_agi_process(settings: AgiProcessSettings, stop: asyncio.Event) -> None:
    """Run until `stop` is set (SIGINT/SIGTERM in the CLI)."""
    async with AgiProcess(settings):
        await stop.wait()
