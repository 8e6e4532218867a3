"""An external ticket source's health for admins: is the mirror fresh, what failed last.

    GET /api/admin/ticket-source

One entry per source that ever synced or reported (none with the built-in tables): the last
successful sync and full resync, the newest update time mirrored, the last error (a failure
kind and an HTTP status, never a token or a customer's data) and how many failures in a row,
the open tickets mirrored, and the call reports pending or given up. The same facts as the
`sticky_router_ticket_*` metrics, for whoever looks at the admin pages rather than Prometheus.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aiohttp import web

from web import keys
from web.security import require_admin
from web.sessions import Principal

_HEALTH = """
    SELECT s.source, s.last_sync_at, s.last_full_sync_at, s.newest_update, s.last_error,
           s.last_error_at, s.failures_in_a_row, s.reports_since,
           (SELECT count(*) FROM ticket_mirror m WHERE m.source = s.source) AS open_tickets,
           (SELECT count(*) FROM ticket_call_reports r
            WHERE r.source = s.source AND r.status = 'pending') AS reports_pending,
           (SELECT count(*) FROM ticket_call_reports r
            WHERE r.source = s.source AND r.status = 'failed') AS reports_given_up
    FROM ticket_source_state s ORDER BY s.source
"""


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in row.items()}


@require_admin
async def ticket_source_health(request: web.Request, _admin: Principal) -> web.StreamResponse:
    rows = await request.app[keys.POOL].fetch(_HEALTH)
    return web.json_response({"sources": [_plain(dict(row)) for row in rows]})


def setup(app: web.Application) -> None:
    app.router.add_get("/api/admin/ticket-source", ticket_source_health)
