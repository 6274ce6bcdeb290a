"""Alerts raised by reconciliation (unknown person, fever, status forbids, double entry, gate offline)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field
from sqlalchemy import and_, or_, select

from server.api.bounds import Int64
from server.api.deps import AlertsAck, AlertsRead, Ctx
from server.api.entries_query import as_utc, decode_cursor, encode_cursor
from server.api.roles import Principal
from server.audit import record
from server.db.models import Alert, AlertKind, Entry, Resident
from server.db.types import utcnow
from server.registry.service import Conflict, NotFound

router = APIRouter(tags=["alerts"])


class AlertOut(BaseModel):
    id: int
    kind: AlertKind
    site_id: str
    gate_id: str | None
    event_id: str | None
    resident_id: str | None
    resident_name: str | None
    created_at: datetime
    acknowledged_by: str | None
    acknowledged_at: datetime | None
    detail: dict[str, Any]
    person_outside_scope: bool = False  # as on /entries: a re-matched person of another compound


class AlertPage(BaseModel):
    items: list[AlertOut]
    next_cursor: str | None


class AckIn(BaseModel):
    note: str | None = Field(default=None, max_length=500)


def _query(ctx: Ctx):
    return (select(Alert, Entry.event_id, Resident.name, Resident.site_id)
            .outerjoin(Entry, Entry.id == Alert.entry_id).outerjoin(Resident, Resident.id == Alert.resident_id))


# what a re-match writes into an alert about the person it found
_REMATCH_KEYS = ("rematched_resident_id", "rematched_site_id")


def _out(who: Principal, a: Alert, event_id, name, resident_site_id) -> AlertOut:
    resident_id, detail, hidden = a.resident_id, dict(a.detail or {}), False
    if resident_id is not None and resident_site_id is not None and not who.sees(resident_site_id):
        resident_id, name, hidden = None, None, True
        for k in _REMATCH_KEYS:
            detail.pop(k, None)
    return AlertOut(id=a.id, kind=a.kind, site_id=a.site_id, gate_id=a.gate_id,
                    event_id=str(event_id) if event_id else None, resident_id=resident_id, resident_name=name,
                    created_at=a.created_at, acknowledged_by=a.acknowledged_by, acknowledged_at=a.acknowledged_at,
                    detail=detail, person_outside_scope=hidden)


@router.get("/alerts", response_model=AlertPage)
def list_alerts(ctx: AlertsRead, site: str | None = None, kind: AlertKind | None = None, open_only: bool = False,
                since: datetime | None = None, until: datetime | None = None, limit: Int64 = 50,
                cursor: str | None = None) -> AlertPage:
    """Newest first; `open_only` hides acknowledged alerts. Keyset pagination like /entries."""
    limit = max(1, min(limit, ctx.app.settings.page_limit_max))
    q = _query(ctx)
    if site is not None:
        q = q.where(Alert.site_id == ctx.require_site(site))
    elif ctx.who.sites is not None:
        q = q.where(Alert.site_id.in_(sorted(ctx.who.sites)))
    if kind is not None:
        q = q.where(Alert.kind == kind)
    if open_only:
        q = q.where(Alert.acknowledged_at.is_(None))
    if since is not None:
        q = q.where(Alert.created_at >= as_utc(since))
    if until is not None:
        q = q.where(Alert.created_at < as_utc(until))
    if cursor:
        at, row_id = decode_cursor(cursor)
        q = q.where(or_(Alert.created_at < at, and_(Alert.created_at == at, Alert.id < row_id)))
    rows = ctx.s.execute(q.order_by(Alert.created_at.desc(), Alert.id.desc()).limit(limit + 1)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    items = [_out(ctx.who, *r) for r in rows]
    record(ctx.s, ctx.actor, "read", "alert", None, site,
           {"count": len(items), "kind": kind, "open_only": open_only})
    ctx.s.commit()
    nxt = encode_cursor(rows[-1][0].created_at, rows[-1][0].id) if more and rows else None
    return AlertPage(items=items, next_cursor=nxt)


@router.post("/alerts/{alert_id}/ack", response_model=AlertOut)
def ack_alert(alert_id: Int64, body: AckIn, ctx: AlertsAck) -> AlertOut:
    row = ctx.s.execute(_query(ctx).where(Alert.id == alert_id)).first()
    if row is None or not ctx.who.sees(row[0].site_id):
        raise NotFound(f"alert {alert_id} not found")
    a = row[0]
    if a.acknowledged_at is not None:
        raise Conflict(f"alert {alert_id} was already acknowledged by {a.acknowledged_by}")
    a.acknowledged_at = utcnow()
    a.acknowledged_by = ctx.who.username
    if body.note:
        a.detail = {**(a.detail or {}), "ack_note": body.note}
    record(ctx.s, ctx.actor, "acknowledge", "alert", a.id, a.site_id, {"kind": a.kind.value})
    ctx.s.commit()
    return _out(ctx.who, a, row[1], row[2], row[3])
