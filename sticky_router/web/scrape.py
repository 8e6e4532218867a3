"""Prometheus's scrape of the router: GET /metrics, counts only, no personal data. Served only
when the process hands the app an exposition (the router does; a test app need not)."""

from __future__ import annotations

from aiohttp import web

from sticky_router.web import keys


async def metrics(request: web.Request) -> web.StreamResponse:
    exposition = request.app.get(keys.METRICS)
    if exposition is None:
        raise web.HTTPNotFound()
    body, content_type = exposition()
    response = web.Response(body=body)
    response.headers["Content-Type"] = content_type
    return response


def setup(app: web.Application) -> None:
    app.router.add_get("/metrics", metrics)
