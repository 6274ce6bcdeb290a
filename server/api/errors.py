"""The one error body every non-2xx API answer carries, its place in the OpenAPI document, and the
exception handlers that produce it.

Body: `{"detail": "<one line>", "code": "<machine code>", "errors": [...]}` — `errors` (every
invalid field: loc and msg, never the value) only on a 422 from validation. `error_responses()` is
attached to every router (app.py), so /openapi.json documents what the handlers really send,
including a 422 whose `detail` is a string (not FastAPI's default array).
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.exc import IntegrityError
from starlette.exceptions import HTTPException

from menwei.errors import MenweiError
from server.db.constraints import Violation, violation_of
from server.registry.service import Conflict, InvalidInput

log = logging.getLogger(__name__)


class FieldError(BaseModel):
    loc: list[str | int]
    msg: str


class ErrorBody(BaseModel):
    detail: str = Field(description="one line saying what is wrong, naming the field")
    code: str = Field(description="machine-readable: invalid_input, not_found, conflict, too_large, …")
    errors: list[FieldError] | None = Field(default=None, description="422 from validation: every invalid field")


_WHAT = {
    400: "Bad request (e.g. a body that cannot be parsed)",
    401: "Not authenticated (missing, invalid or expired token)",
    403: "Not allowed for this role",
    404: "Not found, or outside the caller's compounds",
    409: "Conflicts with existing records (a duplicate)",
    413: "Request body too large",
    422: "Invalid input: a field out of bounds, malformed, or naming a record that does not exist",
    429: "Too many attempts; retry after the Retry-After header's seconds",
}


def error_responses(*statuses: int) -> dict[int | str, dict]:
    """The `responses=` entry for these statuses (all the API answers when none are named)."""
    return {status: {"model": ErrorBody, "description": _WHAT[status]} for status in statuses or _WHAT}


# MenweiError code → HTTP status; anything else a MenweiError says is a 400.
STATUS_OF_CODE = {
    "unauthorized": 401,
    "forbidden": 403,
    "not_found": 404,
    "conflict": 409,
    "unknown_unit": 422,
    "invalid_input": 422,
    "weak_password": 422,
    "bad_csv": 422,
    "bad_cursor": 422,
    "too_large": 413,
    "too_many_attempts": 429,
    "broker_unavailable": 503,
}
# the code of an answer FastAPI or Starlette raise themselves (unparsable body, unknown route)
CODE_OF_STATUS = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
                  405: "method_not_allowed", 409: "conflict", 413: "too_large", 422: "invalid_input"}


def integrity_error(exc: IntegrityError, what: str = "the change") -> MenweiError:
    """The answer for a constraint the database enforced (the handlers check first; this is the race
    between two writers, or a reference that vanished meanwhile)."""
    kind = violation_of(exc)
    if kind is Violation.UNIQUE:
        return Conflict(f"{what} already exists")
    if kind is Violation.FOREIGN_KEY:
        return InvalidInput(f"{what} refers to a record that does not exist (or no longer exists)")
    if kind is Violation.NOT_NULL:
        return InvalidInput(f"{what} leaves a required field empty")
    return InvalidInput(f"{what} violates a database constraint")


def _body(detail: str, code: str, status: int, headers: dict | None = None, **extra) -> JSONResponse:
    return JSONResponse({"detail": detail, "code": code, **extra}, status_code=status, headers=headers)


async def _menwei_error(_req: Request, exc: MenweiError) -> JSONResponse:
    status = STATUS_OF_CODE.get(exc.code, 400)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    retry_after = getattr(exc, "retry_after", None)
    if retry_after is not None:
        headers = {"Retry-After": str(int(retry_after))}
    return _body(exc.message, exc.code, status, headers)


async def _integrity(req: Request, exc: IntegrityError) -> JSONResponse:
    log.info("integrity error (%s) answered from the handler: %s", violation_of(exc), type(exc.orig).__name__)
    return await _menwei_error(req, integrity_error(exc))


async def _invalid(_req: Request, exc: RequestValidationError) -> JSONResponse:
    # one readable line plus the structured list; never echo input values (they may be personal)
    errs = [{"loc": list(e.get("loc", ())), "msg": e.get("msg", "")} for e in exc.errors()]
    first = errs[0] if errs else {"loc": [], "msg": "invalid request"}
    line = f"{'.'.join(str(x) for x in first['loc'])}: {first['msg']}"
    return _body(line, "invalid_input", 422, errors=errs)


async def _http(_req: Request, exc: HTTPException) -> JSONResponse:
    code = CODE_OF_STATUS.get(exc.status_code, f"http_{exc.status_code}")
    return _body(str(exc.detail), code, exc.status_code, getattr(exc, "headers", None))


def install_handlers(app: FastAPI) -> None:
    app.add_exception_handler(MenweiError, _menwei_error)
    app.add_exception_handler(IntegrityError, _integrity)
    app.add_exception_handler(RequestValidationError, _invalid)
    app.add_exception_handler(HTTPException, _http)
