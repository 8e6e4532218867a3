"""Admin pages under /admin/: the home page and the admin's own language; the other pages are
route groups of their own (see web/admin/routes.py).

    GET  /admin/
    POST /admin/language    (form: language=en|ru, back=/admin/..., csrf_token)
"""

from __future__ import annotations

from aiohttp import web

from sticky_router.web import keys
from sticky_router.web.auth.sessions import Principal
from sticky_router.web.i18n.words import LANGUAGES
from sticky_router.web.security import csrf_fields, require_admin
from sticky_router.web.templates import render


@require_admin
async def home(request: web.Request, admin: Principal) -> web.StreamResponse:
    return render(request, "admin_home.html", admin.language, admin=admin, **csrf_fields(admin))


@require_admin
async def choose_language(request: web.Request, admin: Principal) -> web.StreamResponse:
    """Each admin account reads the pages in its own language, from the next page on."""
    form = await request.post()
    language = str(form.get("language", ""))
    if language not in LANGUAGES:
        raise web.HTTPBadRequest(text=f"language: one of {', '.join(LANGUAGES)}")
    await request.app[keys.POOL].execute(
        "UPDATE admin_users SET language = $1 WHERE id = $2", language, admin.id
    )
    back = str(form.get("back", ""))
    # Only a path of these pages: never an address elsewhere (an open redirect).
    if not back.startswith("/admin/") or "//" in back or "\\" in back:
        back = "/admin/"
    raise web.HTTPSeeOther(back)


def setup(app: web.Application) -> None:
    app.router.add_get("/admin/", home)
    app.router.add_post("/admin/language", choose_language)
