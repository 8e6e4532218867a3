"""Who may do what: session look-up, `require_agent` / `require_admin`, CSRF, Origin, headers.

Rules, in one place:
- Every state-changing request (POST, PUT, PATCH, DELETE) and every websocket upgrade must come
  from an allowed Origin (STICKY_WEB_ORIGINS; default the app's own address); no Origin and no
  Referer is refused too.
- Signed-in state-changing requests also carry the session's CSRF token: form field
  `csrf_token`, or header `X-CSRF-Token` for the JSON API.
- A page for one kind of person opened with the other kind's session is 403, not a redirect;
  with no valid session a page redirects to its sign-in page, the API answers 401.
- Every response gets the security headers; every non-static response is `no-store` (the pages
  carry personal data).
"""

from __future__ import annotations

import functools
import secrets
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

from aiohttp import hdrs, web

from sticky_router.web import keys
from sticky_router.web.auth.proxies import client_of
from sticky_router.web.auth.sessions import COOKIE_NAMES, KINDS, Kind, Principal, load_session
from sticky_router.web.errors import WebError, errors_middleware, is_api

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
PrincipalHandler = Callable[[web.Request, Principal], Awaitable[web.StreamResponse]]

CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
SIGN_IN_PATHS: dict[Kind, str] = {"agent": "/agent/sign-in", "admin": "/admin/sign-in"}


def _origin_allowed(request: web.Request) -> bool:
    allowed = request.app[keys.SETTINGS].origins()
    origin = request.headers.get(hdrs.ORIGIN)
    if origin is None:
        referer = request.headers.get(hdrs.REFERER)
        if not referer:
            return False
        parts = urlsplit(referer)
        origin = f"{parts.scheme}://{parts.netloc}"
    return origin.rstrip("/") in allowed


def _is_websocket(request: web.Request) -> bool:
    return request.headers.get(hdrs.UPGRADE, "").lower() == "websocket"


@web.middleware
async def origin_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if (request.method in UNSAFE_METHODS or _is_websocket(request)) and not _origin_allowed(
        request
    ):
        raise WebError(403, "origin_refused", "request from an origin this server does not serve")
    return await handler(request)


@web.middleware
async def headers_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        response = await handler(request)
    except web.HTTPException as error:
        _secure_headers(request, error)
        raise
    if not response.prepared:  # a websocket or stream already sent its headers
        _secure_headers(request, response)
    return response


def _secure_headers(request: web.Request, response: web.StreamResponse) -> None:
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    if not request.path.startswith("/static/"):
        response.headers["Cache-Control"] = "no-store"


# Outermost first: every answer, refusals included, gets the headers.
MIDDLEWARES = (headers_middleware, errors_middleware, origin_middleware)


# --- sessions and rights ----------------------------------------------------------------------


async def current_principal(request: web.Request, kind: Kind) -> Principal | None:
    """The signed-in person of `kind`, from that kind's cookie; None if none or expired."""
    token = request.cookies.get(COOKIE_NAMES[kind])
    if not token:
        return None
    app = request.app
    settings = app[keys.SETTINGS]
    return await load_session(app[keys.POOL], kind, token, app[keys.CLOCK](), settings.session_idle)


async def _authorise(request: web.Request, kind: Kind) -> Principal:
    principal = await current_principal(request, kind)
    if principal is None:
        other = next(k for k in KINDS if k != kind)
        if await current_principal(request, other) is not None:
            raise WebError(403, "forbidden", "this page is not for your account")
        if is_api(request) or request.method != "GET":
            raise WebError(401, "not_signed_in", "sign in first")
        expired = "?expired=1" if request.cookies.get(COOKIE_NAMES[kind]) else ""
        raise web.HTTPSeeOther(SIGN_IN_PATHS[kind] + expired)
    if request.method in UNSAFE_METHODS:
        await check_csrf(request, principal)
    return principal


async def check_csrf(request: web.Request, principal: Principal) -> None:
    """The session's token from the X-CSRF-Token header or the form field, or 403."""
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and request.content_type in (
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    ):
        form = await request.post()
        value = form.get(CSRF_FIELD)
        sent = value if isinstance(value, str) else None
    if not sent or not secrets.compare_digest(sent, principal.csrf_token):
        raise WebError(403, "csrf_failed", "missing or wrong CSRF token; reload the page")


def _require(kind: Kind) -> Callable[[PrincipalHandler], Handler]:
    def decorate(handler: PrincipalHandler) -> Handler:
        @functools.wraps(handler)
        async def guarded(request: web.Request) -> web.StreamResponse:
            return await handler(request, await _authorise(request, kind))

        return guarded

    return decorate


require_agent = _require("agent")
"""`@require_agent async def page(request, agent: Principal)`: signed-in agents only."""
require_admin = _require("admin")
"""`@require_admin async def page(request, admin: Principal)`: signed-in admins only."""


def client_address(request: web.Request) -> str:
    """The client's address, the sign-in limit's key: the TCP peer, or behind a trusted proxy
    (STICKY_WEB_TRUSTED_PROXIES) the right-most X-Forwarded-For hop that is not one; a client's
    own X-Forwarded-For never counts (web/auth/proxies.py)."""
    return client_of(
        request.remote,
        request.headers.get("X-Forwarded-For"),
        request.app[keys.SETTINGS].trusted_proxies,
    )


def csrf_fields(principal: Principal) -> dict[str, Any]:
    """Template values: `csrf_field` name and `csrf_token` for a hidden input or a meta tag."""
    return {"csrf_field": CSRF_FIELD, "csrf_token": principal.csrf_token}
