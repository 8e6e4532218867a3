"""An external ticket source's health for admins: is the mirror fresh, what failed last.

    GET /api/admin/ticket-source

One entry per source that ever synced or reported (none with the built-in tables): the last
successful sync and full resync, the newest update time mirrored, the last error (a failure
kind and an HTTP status, never a token or a customer's data) and how many failures in a row,
the open tickets mirrored, and the call reports pending or given up. The same facts as the
`sticky_router_ticket_*` metrics, for scripts; people read them on /admin/ticket-source
(web/admin/ticket_source_pages.py). The query is routing_core.store.ticket_health's.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any

from aiohttp import web

from sticky_router.routing_core.store.ticket_health import source_health
from sticky_router.web import keys
from sticky_router.web.auth.sessions import Principal
from sticky_router.web.security import require_admin


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in row.items()}


@require_admin
async def ticket_source_health(request: web.Request, _admin: Principal) -> web.StreamResponse:
    sources = await source_health(request.app[keys.POOL])
    return web.json_response({"sources": [_plain(dataclasses.asdict(one)) for one in sources]})


def setup(app: web.Application) -> None:
    app.router.add_get("/api/admin/ticket-source", ticket_source_health)
