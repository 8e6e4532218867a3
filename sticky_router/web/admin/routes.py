"""The admin room's routes: the pages under /admin/ and the JSON API under /api/admin/."""

from __future__ import annotations

from sticky_router.web.admin import (
    blocks_api,
    flags_api,
    flags_pages,
    incidents_api,
    insight_pages,
    live_pages,
    openapi,
    pages,
    people_api,
    people_pages,
    settings_api,
    settings_pages,
    ticket_source_api,
    ticket_source_pages,
)
from sticky_router.web.keys import RouteGroup

ROUTE_GROUPS: tuple[RouteGroup, ...] = (
    pages.setup,
    settings_api.setup,
    flags_api.setup,
    openapi.setup,
    settings_pages.setup,
    insight_pages.setup,
    people_api.setup,
    blocks_api.setup,
    ticket_source_api.setup,
    ticket_source_pages.setup,
    flags_pages.setup,
    people_pages.setup,
    live_pages.setup,
    incidents_api.setup,
)
