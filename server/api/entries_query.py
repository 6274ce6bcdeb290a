"""The entry-log query: filters, scope, and keyset pagination over (captured_at, id).

Keyset rather than OFFSET so page 1,000 costs what page 1 costs: each page continues strictly
after the last row seen, in the order of the (site_id, captured_at, id) index. Ties on
captured_at are broken by the row id, so no row is skipped or repeated even when many entries
share a millisecond. The cursor is opaque to clients (base64 of the last row's key).
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Select, and_, or_, select
from sqlalchemy.orm import Session, aliased

from menwei.errors import MenweiError
from menwei.wire import Decision
from server.api.bounds import INT64_MAX, INT64_MIN
from server.api.roles import Principal
from server.db.models import Alert, Entry, EntryReview, Resident
from server.registry.service import InvalidInput


class BadCursor(MenweiError):
    code = "bad_cursor"


@dataclass(frozen=True)
class EntryFilters:
    site: str | None = None
    gate: str | None = None
    resident: str | None = None
    decision: Decision | None = None
    since: datetime | None = None  # inclusive
    until: datetime | None = None  # exclusive
    alerts_only: bool = False
    # a name search, resolved to the ids of the caller's residents it matched (server/api/name_search.py);
    # None: no name search. The words searched are not kept here: the audit log gets this as a count.
    residents: frozenset[str] | None = None

    def as_dict(self) -> dict:
        out = {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in self.__dict__.items()
               if v not in (None, False) and k != "residents"}
        if self.residents is not None:
            out["name_matches"] = len(self.residents)
        return out


def as_utc(v: datetime | None) -> datetime | None:
    """Query times without an offset are taken as UTC (the API speaks UTC throughout)."""
    if v is None:
        return None
    try:
        return v.replace(tzinfo=UTC) if v.tzinfo is None else v.astimezone(UTC)
    except OverflowError:
        raise InvalidInput(f"time {v.isoformat()} is outside the years 0001-9999 in UTC") from None


def encode_cursor(captured_at: datetime, row_id: int) -> str:
    raw = json.dumps([captured_at.astimezone(UTC).isoformat(), row_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        ts, row_id = json.loads(raw)
        at = datetime.fromisoformat(ts)
        if at.tzinfo is None or not isinstance(row_id, int) or not INT64_MIN <= row_id <= INT64_MAX:
            raise ValueError
        return at, row_id
    except (ValueError, TypeError, binascii.Error, json.JSONDecodeError):
        raise BadCursor("invalid cursor: pass next_cursor from the previous page unchanged") from None


Host = aliased(Resident)  # a visitor pass's host, named on the entry of the visit

COLUMNS = (Entry.id, Entry.event_id, Entry.site_id, Entry.gate_id, Entry.seq, Entry.captured_at,
           Entry.direction, Entry.decision, Entry.reasons, Entry.resident_id, Entry.household_id,
           Entry.matched_by, Entry.score, Entry.temperature_c, Entry.temperature_status, Entry.has_alert,
           Entry.visitor_pass_id, Entry.pass_host_resident_id, Entry.pass_refused,
           Resident.name.label("resident_name"), Resident.site_id.label("resident_site_id"),
           Host.name.label("pass_host_name"), Host.site_id.label("pass_host_site_id"),
           # IS NOT NULL reads the row's null map only: the crop itself stays out of list queries
           Entry.face_jpeg.is_not(None).label("has_face"),
           EntryReview.kind.label("review_kind"), EntryReview.note.label("review_note"),
           EntryReview.reviewed_by.label("review_by"), EntryReview.reviewed_at.label("review_at"))


def entries_query(f: EntryFilters, who: Principal) -> Select:
    """Rows newest first; the caller's scope is applied here, never left to the handler."""
    q = (select(*COLUMNS).outerjoin(Resident, Resident.id == Entry.resident_id)
         .outerjoin(Host, Host.id == Entry.pass_host_resident_id)
         .outerjoin(EntryReview, EntryReview.entry_id == Entry.id))
    if f.site is not None:
        q = q.where(Entry.site_id == f.site)
    elif who.sites is not None:
        q = q.where(Entry.site_id.in_(sorted(who.sites)))
    if f.gate is not None:
        q = q.where(Entry.gate_id == f.gate)
    if f.resident is not None:
        q = q.where(Entry.resident_id == f.resident)
        if who.sites is not None:  # no "was X seen here?" answers about people outside the scope
            q = q.where(Resident.site_id.in_(sorted(who.sites)))
    if f.residents is not None:
        # the ids came from the caller's own residents (name_search.py), so no scope check is needed
        # beyond the entries' one above
        q = q.where(Entry.resident_id.in_(sorted(f.residents)))
    if f.decision is not None:
        q = q.where(Entry.decision == f.decision.value)
    if f.since is not None:
        q = q.where(Entry.captured_at >= f.since)
    if f.until is not None:
        q = q.where(Entry.captured_at < f.until)
    if f.alerts_only:
        q = q.where(Entry.has_alert.is_(True))
    return q.order_by(Entry.captured_at.desc(), Entry.id.desc())


def after(q: Select, cursor: tuple[datetime, int] | None) -> Select:
    if cursor is None:
        return q
    at, row_id = cursor
    # spelled out rather than a row-value comparison: both planners turn this into one index range
    return q.where(or_(Entry.captured_at < at, and_(Entry.captured_at == at, Entry.id < row_id)))


def alerts_for(s: Session, entry_ids: list[int], who: Principal) -> dict[int, list[dict]]:
    """The alerts of these entries that the caller may see (a re-matched person's status alert is
    her own compound's, even on another compound's entry)."""
    if not entry_ids:
        return {}
    out: dict[int, list[dict]] = {}
    q = select(Alert.entry_id, Alert.id, Alert.kind, Alert.acknowledged_at).where(Alert.entry_id.in_(entry_ids))
    if who.sites is not None:
        q = q.where(Alert.site_id.in_(sorted(who.sites)))
    rows = s.execute(q.order_by(Alert.id)).all()
    for entry_id, alert_id, kind, acked in rows:
        out.setdefault(entry_id, []).append(
            {"id": alert_id, "kind": getattr(kind, "value", kind), "acknowledged": acked is not None})
    return out


def fetch_page(s: Session, f: EntryFilters, who: Principal, limit: int, cursor: str | None):
    """(rows, alerts by entry id, next_cursor or None)."""
    q = after(entries_query(f, who), decode_cursor(cursor) if cursor else None).limit(limit + 1)
    rows = s.execute(q).all()
    more = len(rows) > limit
    rows = rows[:limit]
    alerts = alerts_for(s, [r.id for r in rows if r.has_alert], who)
    nxt = encode_cursor(rows[-1].captured_at, rows[-1].id) if more and rows else None
    return rows, alerts, nxt


def event_uuid(v: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(v)
    except ValueError:
        return None
