"""Bounds that keep request input inside what the database columns can hold.

A value the database would refuse must be a 422 naming the field, never a 500 from the driver:

* integers: `Int32` for a value compared with or stored in an `Integer` column (PostgreSQL
  INTEGER is signed 32-bit), `Int64` for a `BigInteger` one (and for LIMIT/OFFSET). SQLite would
  take 64 bits everywhere; the API answers the same on both databases;
* references to another row's id (`ref()`): the ids' own alphabet, so "" is refused up front;
* strings: no NUL (U+0000) anywhere — PostgreSQL text cannot hold it. That one is checked for every
  route at once by `server.api.nul.refuse_nul`, not per field.
"""

from __future__ import annotations

from typing import Annotated

from annotated_types import Interval
from pydantic import Field

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
Int32 = Annotated[int, Interval(ge=INT32_MIN, le=INT32_MAX)]
Int64 = Annotated[int, Interval(ge=INT64_MIN, le=INT64_MAX)]

ID_PATTERN = r"^[A-Za-z0-9_.\-]+$"


def ref(**kw) -> object:
    """An optional reference field (community_id, subdistrict_id, grid_id): null or a valid id."""
    return Field(default=None, min_length=1, max_length=64, pattern=ID_PATTERN, **kw)
