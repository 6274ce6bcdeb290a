"""Strings with NUL (U+0000) are refused on every route, before they reach the database.

PostgreSQL text cannot hold NUL: a name, an id or a filter containing one made the driver raise
and the API answer 500. Rather than repeat a validator on every string field, one app-wide
dependency looks at what the request carries — path and query parameters, the JSON body or the
form fields (file names, not file contents) — and answers the same 422 a validation error gets,
naming where the NUL was (`body.name`, `query.q`, ...), never echoing the value.
"""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from starlette.datastructures import UploadFile

NUL = "\x00"
MESSAGE = "must not contain NUL (\\x00) characters"

Loc = tuple[str | int, ...]


def _in_json(value: object, loc: Loc) -> Iterator[Loc]:
    if isinstance(value, str):
        if NUL in value:
            yield loc
    elif isinstance(value, dict):
        for k, v in value.items():
            if NUL in k:
                yield loc
            else:
                yield from _in_json(v, (*loc, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _in_json(v, (*loc, i))


async def _in_body(request: Request) -> list[Loc]:
    route = request.scope.get("route")
    if getattr(route, "body_field", None) is None:
        return []  # the route reads no body: whatever was sent is never looked at
    # FastAPI has already read and parsed the body for this route; these calls return its cache
    content_type = request.headers.get("content-type", "")
    if content_type.startswith(("multipart/form-data", "application/x-www-form-urlencoded")):
        found = []
        for k, v in (await request.form()).multi_items():
            text = (v.filename or "") if isinstance(v, UploadFile) else v
            if NUL in k or NUL in text:
                found.append(("body", k.replace(NUL, "")))
        return found
    if b"\\u0000" not in await request.body():  # JSON can only carry NUL escaped
        return []
    try:
        return list(_in_json(await request.json(), ("body",)))
    except ValueError:  # not JSON after all: the route's own validation answers it
        return []


def _in_params(request: Request) -> Iterator[Loc]:
    for name, value in request.path_params.items():
        if isinstance(value, str) and NUL in value:
            yield ("path", name)
    for name, value in request.query_params.multi_items():
        if NUL in name or NUL in value:
            yield ("query", name.replace(NUL, ""))


async def refuse_nul(request: Request) -> None:
    """App-wide dependency: 422 (the validation error body) for the first NUL found."""
    for loc in (*_in_params(request), *await _in_body(request)):
        raise RequestValidationError([{"loc": loc, "msg": MESSAGE, "type": "string_nul"}])
