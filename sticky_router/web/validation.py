"""Reading what a person sent: a JSON body or a page's form, checked by a pydantic model; the
first field at fault is named in an InvalidField (422), which pages show beside the field and
the API returns as JSON (web/errors.py)."""

from __future__ import annotations

from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from sticky_router.web.errors import InvalidField, WebError

ModelT = TypeVar("ModelT", bound=BaseModel)


async def read_body(request: web.Request, model: type[ModelT]) -> ModelT:
    try:
        raw = await request.json()
    except ValueError:
        raise WebError(400, "bad_json", "the body is not JSON") from None
    return validated(model, raw)


def validated(model: type[ModelT], raw: Any) -> ModelT:
    """A JSON body or a page's form, checked by the model; InvalidField names the first field."""
    try:
        return model.model_validate(raw)
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or "body"
        raise InvalidField(field, f"{field}: {first['msg']}") from None
