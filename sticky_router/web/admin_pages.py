"""Admin pages under /admin/. The foundation has the home page only; the admin issue adds its
pages as route groups of their own (see web/app.py ROUTE_GROUPS)."""

from __future__ import annotations

from aiohttp import web

from sticky_router.web.security import csrf_fields, require_admin
from sticky_router.web.sessions import Principal
from sticky_router.web.templates import render


@require_admin
async def home(request: web.Request, admin: Principal) -> web.StreamResponse:
    return render(request, "admin_home.html", admin.language, admin=admin, **csrf_fields(admin))


def setup(app: web.Application) -> None:
    app.router.add_get("/admin/", home)
