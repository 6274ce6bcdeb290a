"""Which constraint an IntegrityError broke, on SQLite and PostgreSQL.

A duplicate is a conflict (409); a missing reference, a missing required value or a failed check
is bad input (422). Telling them apart needs the driver's own error: PostgreSQL's SQLSTATE, or
SQLite's message (sqlite3 exposes no code per constraint kind before Python 3.11's
`sqlite_errorname`, and the message is stable: "UNIQUE constraint failed: t.c").
"""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy.exc import IntegrityError


class Violation(StrEnum):
    UNIQUE = "unique"
    FOREIGN_KEY = "foreign_key"
    NOT_NULL = "not_null"
    CHECK = "check"
    OTHER = "other"


_SQLSTATE = {"23505": Violation.UNIQUE, "23503": Violation.FOREIGN_KEY, "23502": Violation.NOT_NULL,
             "23514": Violation.CHECK}
_SQLITE_PREFIX = {"UNIQUE constraint failed": Violation.UNIQUE,
                  "PRIMARY KEY constraint failed": Violation.UNIQUE,
                  "FOREIGN KEY constraint failed": Violation.FOREIGN_KEY,
                  "NOT NULL constraint failed": Violation.NOT_NULL,
                  "CHECK constraint failed": Violation.CHECK}


def violation_of(exc: IntegrityError) -> Violation:
    orig = exc.orig
    sqlstate = getattr(orig, "sqlstate", None)
    if sqlstate:
        return _SQLSTATE.get(sqlstate, Violation.OTHER)
    message = str(orig)
    for prefix, kind in _SQLITE_PREFIX.items():
        if message.startswith(prefix):
            return kind
    return Violation.OTHER
