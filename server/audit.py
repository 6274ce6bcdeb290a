"""The audit log writer: who read or changed what, when, from where.

Rows are added to the caller's session so an audited change and its audit row commit together
(a change is never logged without happening, nor the reverse). For reads the API commits the
audit row itself before returning the data: a read that cannot be logged is not served.
Details carry identifiers and filters, never names, faces, embeddings or passwords.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from server.db.models import AuditLog


@dataclass(frozen=True)
class Actor:
    """Who acts: a user (id + name) or a system job such as ``system:retention``."""

    username: str
    user_id: int | None = None
    ip: str | None = None


def record(session: Session, actor: Actor, action: str, object_type: str | None = None,
           object_id: str | int | None = None, site_id: str | None = None,
           detail: dict[str, Any] | None = None) -> AuditLog:
    row = AuditLog(
        user_id=actor.user_id,
        username=actor.username[:128],
        action=action[:64],
        object_type=object_type,
        object_id=None if object_id is None else str(object_id)[:128],
        site_id=site_id,
        detail=_clean(detail) if detail else None,
        ip=actor.ip,
    )
    session.add(row)
    return row


def _clean(detail: dict[str, Any]) -> dict[str, Any]:
    """JSON-safe copy (datetimes/UUIDs as strings); drops keys that must never be logged."""
    out = {}
    for k, v in detail.items():
        if k in {"password", "embedding", "photo", "face_jpeg", "token"}:
            continue
        if v is None or isinstance(v, bool | int | float | str):
            out[k] = v
        elif isinstance(v, list | tuple):
            out[k] = [x if isinstance(x, bool | int | float | str) or x is None else str(x) for x in v]
        elif isinstance(v, dict):
            out[k] = _clean(v)
        else:
            out[k] = str(v)
    return out
