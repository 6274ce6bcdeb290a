"""The one error body every API answer other than 2xx carries, and the bounds that keep input
inside what the database can store.

Declared once and attached to every router (app.py), so /openapi.json documents what the
handlers really send: `{"detail": "<one line>", "code": "<machine code>", "errors": [...]}`.
"""

from __future__ import annotations

from typing import Annotated

from annotated_types import Interval
from pydantic import BaseModel, Field

# SQLite INTEGER and PostgreSQL BIGINT are signed 64-bit: a larger number must be a 422, not a 500
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
Int64 = Annotated[int, Interval(ge=INT64_MIN, le=INT64_MAX)]

# A reference to another row's id: same alphabet as the ids themselves, so "" is refused up front
REF_PATTERN = r"^[A-Za-z0-9_.\-]+$"


def ref(**kw) -> object:
    """An optional reference field (community_id, subdistrict_id, grid_id): null or a valid id."""
    return Field(default=None, min_length=1, max_length=64, pattern=REF_PATTERN, **kw)


class FieldError(BaseModel):
    loc: list[str | int]
    msg: str


class ErrorOut(BaseModel):
    detail: str = Field(description="one line saying what is wrong, naming the field")
    code: str = Field(description="machine-readable: invalid_input, not_found, conflict, too_large, …")
    errors: list[FieldError] | None = Field(default=None, description="422 only: every invalid field")


_WHAT = {
    400: "Bad request",
    401: "Not authenticated (missing, invalid or expired token)",
    403: "Not allowed for this role",
    404: "Not found, or outside the caller's compounds",
    409: "Conflicts with existing records",
    413: "Request body too large",
    422: "Invalid input",
    429: "Too many attempts; retry after the Retry-After header's seconds",
}
ERROR_RESPONSES: dict[int | str, dict] = {status: {"model": ErrorOut, "description": what}
                                          for status, what in _WHAT.items()}
