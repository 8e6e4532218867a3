"""The web's one error convention: a handler refuses by raising WebError (or InvalidField, which
names the field at fault), and `errors_middleware` turns it into HTTP in one place: JSON under
/api/ and on websockets (`{"error": code, "message": ..., "field": ...}`), a short text page
elsewhere. A page that shows a form again with the refusal beside the field catches InvalidField
itself; nothing else builds an error response by hand."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class WebError(Exception):
    """A refusal with a machine-readable `code` and a sentence for the person."""

    def __init__(self, status: int, code: str, message: str = "") -> None:
        super().__init__(message or code)
        self.status = status
        self.code = code
        self.message = message or code


class InvalidField(WebError):
    """A request's field is wrong: the field named, the message saying why. 422, except where
    the agent screen's API has answered 400 from its start (its clients read that)."""

    def __init__(self, field: str, message: str, status: int = 422) -> None:
        super().__init__(status, "invalid_field", message)
        self.field = field


def is_api(request: web.Request) -> bool:
    return request.path.startswith("/api/") or request.path.endswith("/ws")


@web.middleware
async def errors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except WebError as error:
        if not is_api(request):
            return web.Response(status=error.status, text=error.message)
        body = {"error": error.code, "message": error.message}
        if isinstance(error, InvalidField):
            body["field"] = error.field
        return web.json_response(body, status=error.status)
