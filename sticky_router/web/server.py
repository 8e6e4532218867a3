"""Serving the web app inside the router process: started and stopped with the router.

A web server that cannot start (port taken, say) is logged and left off: call routing goes on
without it. Nothing here is on a call's path.
"""

from __future__ import annotations

import structlog
from aiohttp import web

log = structlog.get_logger("sticky_router.web")


class WebServer:
    def __init__(self, app: web.Application, host: str, port: int) -> None:
        self.app = app
        self.host = host
        self.port = port
        self._runner: web.AppRunner | None = None

    @property
    def running(self) -> bool:
        return self._runner is not None

    async def start(self) -> bool:
        """Whether the server is listening now."""
        runner = web.AppRunner(
            self.app, access_log=None, handle_signals=False, shutdown_timeout=2.0
        )
        try:
            await runner.setup()
            site = web.TCPSite(runner, self.host, self.port)
            await site.start()
        except Exception as error:  # the router routes calls without its web pages
            log.error("web_start_failed", host=self.host, port=self.port, error=str(error))
            await runner.cleanup()
            return False
        self._runner = runner
        log.info("web_started", url=f"http://{self.host}:{self.port}/agent/")
        return True

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            try:
                await runner.cleanup()
            except Exception as error:
                log.warning("web_stop_failed", error=str(error))
