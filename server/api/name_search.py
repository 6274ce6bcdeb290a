"""The entry log's search by name: a substring of a resident's name, resolved to resident ids.

Resolved against the registry first, never by joining names into the entries query: the log then
filters on `entries.resident_id IN (...)`, which the (resident_id, captured_at) index answers
whatever the size of the entries table. Only the caller's residents are searched (a guard of A
cannot learn that "Wang" lives in B), and a search matching more than MAX_MATCHES residents is
refused so that one letter cannot turn into an IN list of the whole district.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from server.api.roles import Principal
from server.db.models import Resident
from server.registry.service import InvalidInput

MAX_MATCHES = 500
MAX_NAME = 200  # the registry's own limit on a name


def _like_pattern(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped.lower()}%"


def residents_named(s: Session, who: Principal, name: str, site: str | None) -> frozenset[str]:
    """Ids of the caller's residents (of `site` when given) whose name contains `name`."""
    text = name.strip()
    if not text or len(text) > MAX_NAME:
        raise InvalidInput(f"name must be 1 to {MAX_NAME} characters (without surrounding spaces)")
    q = select(Resident.id).where(func.lower(Resident.name).like(_like_pattern(text), escape="\\"))
    if site is not None:
        q = q.where(Resident.site_id == site)
    elif who.sites is not None:
        q = q.where(Resident.site_id.in_(sorted(who.sites)))
    ids = s.scalars(q.limit(MAX_MATCHES + 1)).all()
    if len(ids) > MAX_MATCHES:
        raise InvalidInput(f"name matches more than {MAX_MATCHES} residents: type more of it, or pick a compound")
    return frozenset(ids)
