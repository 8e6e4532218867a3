"""The agent room's routes: the screen (/agent/, its websocket, callbacks) and its JSON API."""

from __future__ import annotations

from sticky_router.web.agent import api, pages
from sticky_router.web.keys import RouteGroup

ROUTE_GROUPS: tuple[RouteGroup, ...] = (pages.setup, api.setup)
