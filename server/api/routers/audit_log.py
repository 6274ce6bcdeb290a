"""The audit log, for admins: who read or changed what, when."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel
from sqlalchemy import select

from server.api.bounds import Int64
from server.api.deps import AuditRead
from server.api.entries_query import as_utc
from server.audit import record
from server.db.models import AuditLog

router = APIRouter(tags=["audit"])


class AuditOut(BaseModel):
    id: int
    at: datetime
    user_id: int | None
    username: str | None
    action: str
    object_type: str | None
    object_id: str | None
    site_id: str | None
    detail: dict[str, Any] | None
    ip: str | None


class AuditPage(BaseModel):
    items: list[AuditOut]
    next_cursor: int | None  # pass as before_id for the next (older) page


@router.get("/audit", response_model=AuditPage)
def list_audit(ctx: AuditRead, user: str | None = None, action: str | None = None, object_type: str | None = None,
               object_id: str | None = None, site: str | None = None, since: datetime | None = None,
               until: datetime | None = None, before_id: Int64 | None = None, limit: Int64 = 100) -> AuditPage:
    """Newest first (ids only grow, so the id is the cursor)."""
    limit = max(1, min(limit, ctx.app.settings.page_limit_max))
    q = select(AuditLog)
    for col, val in ((AuditLog.username, user), (AuditLog.action, action), (AuditLog.object_type, object_type),
                     (AuditLog.object_id, object_id), (AuditLog.site_id, site)):
        if val is not None:
            q = q.where(col == val)
    if since is not None:
        q = q.where(AuditLog.at >= as_utc(since))
    if until is not None:
        q = q.where(AuditLog.at < as_utc(until))
    if before_id is not None:
        q = q.where(AuditLog.id < before_id)
    rows = ctx.s.scalars(q.order_by(AuditLog.id.desc()).limit(limit + 1)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    items = [AuditOut.model_validate(r, from_attributes=True) for r in rows]
    # reading the log is itself logged: it shows who looked at whom
    record(ctx.s, ctx.actor, "read", "audit_log", None, site, {"count": len(items)})
    ctx.s.commit()
    return AuditPage(items=items, next_cursor=rows[-1].id if more and rows else None)
