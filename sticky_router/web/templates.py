"""HTML from jinja2 templates with autoescape always on: every value from tickets, callers and
agents is escaped where it lands. Scripts are files under /static (the CSP allows no inline
script), and they put data on the page with textContent only."""

from __future__ import annotations

from typing import Any

import jinja2
from aiohttp import web

from sticky_router.web import keys
from sticky_router.web.i18n.words import language_of, translator


def environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("sticky_router.web", "templates"),
        autoescape=True,  # every template, whatever its file name
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render(
    request: web.Request,
    template: str,
    language: str | None,
    status: int = 200,
    **context: Any,
) -> web.Response:
    lang = language_of(language)
    page = request.app[keys.TEMPLATES].get_template(template)
    html = page.render(lang=lang, t=translator(lang), page_path=request.path_qs, **context)
    return web.Response(text=html, status=status, content_type="text/html", charset="utf-8")
