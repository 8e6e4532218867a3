"""ARI applications of a test's own on the sandbox's Asterisk, beside the session's router: a
client, and one whose event websocket is up (Asterisk knows an application only while its
websocket is connected) and has answered its probe, so its REST calls travel on it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from devkit.sandbox.asterisk import LocalAsterisk
from sticky_router.ari_app.client import AriClient, Event


def ari_client(asterisk: LocalAsterisk, app: str) -> AriClient:
    ari = asterisk.ari_credentials
    return AriClient(f"http://127.0.0.1:{asterisk.http_port}", ari.user, ari.password, app)


@contextlib.asynccontextmanager
async def connected_application(asterisk: LocalAsterisk, app: str) -> AsyncIterator[AriClient]:
    async with ari_client(asterisk, app) as client:
        events = asyncio.create_task(client.run_events(_ignore, _nothing))
        try:
            async with asyncio.timeout(5):
                while not client.rest_over_websocket:  # noqa: ASYNC110 (no event to wait on)
                    await asyncio.sleep(0.02)
            yield client
        finally:
            events.cancel()


async def _ignore(_event: Event) -> None:
    return None


async def _nothing() -> None:
    return None
