"""Sign-in and sign-out, one page per kind of person: /agent/sign-in and /admin/sign-in.

A failed sign-in says only "wrong name or password" (never which) and costs an argon2 verify
even for an unknown name; the verify runs in a worker thread, a few at a time
(web/passwords.PasswordChecks), never on the event loop the calls' decisions use.

Every attempt is counted before it is checked (web/auth/ratelimit.py has the rules): per client
address a hard limit, per account a delay that doubles with each further failure, a few seconds
at most, never a lockout of the rightful owner. A refused attempt is a 429 with Retry-After, the
seconds until the next attempt will be checked. A browser that signed in to the account before
carries a cookie (web/auth/known_browsers.py) that spares it the delay others' guesses caused.
"""

from __future__ import annotations

from aiohttp import web

from sticky_router.web import keys
from sticky_router.web.auth.known_browsers import KNOWN_FOR_SECONDS
from sticky_router.web.auth.passwords import PasswordChecksBusy
from sticky_router.web.auth.ratelimit import TooManyAttempts
from sticky_router.web.auth.sessions import (
    COOKIE_NAMES,
    Kind,
    Principal,
    create_session,
    end_session,
    find_account,
)
from sticky_router.web.i18n.words import language_of
from sticky_router.web.security import (
    SIGN_IN_PATHS,
    Handler,
    client_address,
    current_principal,
    require_admin,
    require_agent,
)
from sticky_router.web.templates import render

HOMES: dict[Kind, str] = {"agent": "/agent/", "admin": "/admin/"}
KNOWN_BROWSER_COOKIES: dict[Kind, str] = {
    "agent": "sticky_known_agent_browser",
    "admin": "sticky_known_admin_browser",
}
MAX_NAME = 64


def page_language(request: web.Request) -> str:
    """Before sign-in the person's own language is unknown: ?lang=, else the browser's."""
    chosen = request.query.get("lang")
    if chosen:
        return language_of(chosen)
    accepted = request.headers.get("Accept-Language", "")
    return "ru" if accepted.lower().startswith("ru") else "en"


def _sign_in_form(
    request: web.Request,
    kind: Kind,
    status: int = 200,
    error: str | None = None,
    *,
    name: str = "",
    seconds: int = 0,
) -> web.Response:
    return render(
        request,
        "sign_in.html",
        page_language(request),
        status=status,
        kind=kind,
        action=SIGN_IN_PATHS[kind],
        error=error,
        seconds=seconds,
        name=name,
    )


def _sign_in_page(kind: Kind) -> Handler:
    async def show(request: web.Request) -> web.StreamResponse:
        if await current_principal(request, kind) is not None:
            raise web.HTTPSeeOther(HOMES[kind])
        error = "sign_in.expired" if request.query.get("expired") else None
        return _sign_in_form(request, kind, error=error)

    return show


def _too_many(request: web.Request, kind: Kind, seconds: int, name: str) -> web.Response:
    response = _sign_in_form(request, kind, 429, "sign_in.too_many", seconds=seconds, name=name)
    response.headers["Retry-After"] = str(seconds)
    return response


def _sign_in(kind: Kind) -> Handler:
    async def submit(request: web.Request) -> web.StreamResponse:
        app = request.app
        form = await request.post()
        name = str(form.get("name", "")).strip()[:MAX_NAME]
        password = str(form.get("password", ""))
        limiter = app[keys.LIMITER]
        account_key = f"{kind}:{name.lower()}"
        browser = limiter.browsers.browser_of(
            account_key, request.cookies.get(KNOWN_BROWSER_COOKIES[kind])
        )
        # Counted here, before the first await: parallel attempts cannot all pass the check.
        try:
            attempt = limiter.reserve(account_key, client_address(request), browser)
        except TooManyAttempts as refused:
            return _too_many(request, kind, refused.seconds, name)
        pool = app[keys.POOL]
        account = await find_account(pool, kind, name) if name else None
        try:
            matches = await app[keys.PASSWORDS].verify(
                account.password_hash if account else None, password
            )
        except PasswordChecksBusy:
            limiter.unchecked(attempt)
            return _too_many(request, kind, 1, name)
        if not matches:
            limiter.failed(attempt)
            return _sign_in_form(request, kind, 401, "sign_in.failed", name=name)
        assert account is not None
        limiter.succeeded(attempt, account_key)
        settings = app[keys.SETTINGS]
        token = await create_session(pool, account, app[keys.CLOCK](), settings.session_absolute)
        response = web.HTTPSeeOther(HOMES[kind])
        response.set_cookie(
            COOKIE_NAMES[kind],
            token,
            httponly=True,
            samesite="Strict",
            secure=settings.cookie_secure,
            path="/",
            max_age=int(settings.session_absolute.total_seconds()),
        )
        response.set_cookie(
            KNOWN_BROWSER_COOKIES[kind],
            limiter.browsers.token_for(account_key),
            httponly=True,
            samesite="Strict",
            secure=settings.cookie_secure,
            path=SIGN_IN_PATHS[kind],  # only the sign-in form ever needs it
            max_age=KNOWN_FOR_SECONDS,
        )
        raise response

    return submit


async def _sign_out(request: web.Request, principal: Principal) -> web.StreamResponse:
    await end_session(request.app[keys.POOL], principal.token_hash)
    response = web.HTTPSeeOther(SIGN_IN_PATHS[principal.kind])
    response.del_cookie(COOKIE_NAMES[principal.kind], path="/")
    raise response


def setup(app: web.Application) -> None:
    for kind in ("agent", "admin"):
        path = SIGN_IN_PATHS[kind]
        app.router.add_get(path, _sign_in_page(kind))
        app.router.add_post(path, _sign_in(kind))
    app.router.add_post("/agent/sign-out", require_agent(_sign_out))
    app.router.add_post("/admin/sign-out", require_admin(_sign_out))
