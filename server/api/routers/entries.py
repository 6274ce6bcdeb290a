"""The entry log: filtered, keyset-paginated list; CSV export; one entry; its face crop."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from datetime import datetime
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel
from sqlalchemy import select

from menwei.wire import Decision
from server.api.bounds import Int64
from server.api.deps import Ctx, EntriesExport, EntriesRead
from server.api.entries_query import EntryFilters, alerts_for, as_utc, event_uuid, fetch_page
from server.api.name_search import residents_named
from server.api.roles import Principal
from server.audit import record
from server.db.models import Entry, EntryReview, FacePhoto, FaceVariant, Resident, ReviewKind
from server.registry.service import NotFound, placement_of

router = APIRouter(tags=["entries"])
EXPORT_PAGE = 5000


class AlertRef(BaseModel):
    id: int
    kind: str
    acknowledged: bool


class ReviewOut(BaseModel):
    kind: ReviewKind
    note: str | None
    by: str
    at: datetime


class EntryItem(BaseModel):
    event_id: str
    site_id: str
    gate_id: str
    seq: int
    captured_at: datetime
    direction: str
    decision: str
    reasons: list[str]
    resident_id: str | None
    resident_name: str | None
    household_id: int | None
    matched_by: str | None
    score: float | None
    temperature_c: float | None
    temperature_status: str
    # a visitor pass shown at the gate: its id, the host the server's record names (this
    # compound's passes only), the gate's refusal code (None: it opened)
    visitor_pass_id: str | None = None
    pass_host_resident_id: str | None = None
    pass_host_name: str | None = None
    pass_refused: str | None = None
    alerts: list[AlertRef]
    # the face matched a person registered in a compound outside the caller's scope (district
    # re-match): who she is, is not shown (docs/API.md, "What the district re-match reveals")
    person_outside_scope: bool = False
    has_face: bool = False  # the gate sent a face crop and retention has not purged it yet
    review: ReviewOut | None = None  # an officer marked the recognition as wrong


class EntryPage(BaseModel):
    items: list[EntryItem]
    next_cursor: str | None


class EntryDetail(EntryItem):
    received_at: datetime
    building: str | None = None
    unit: str | None = None
    household: str | None = None
    gallery_version: int | None
    pack: str | None
    temperature_method: str | None
    track: dict[str, Any] | None
    override: dict[str, Any] | None


def _filters(ctx: Ctx, site, gate, resident, decision, since, until, alerts_only, name=None) -> EntryFilters:
    if site is not None:
        ctx.require_site(site)
    residents = residents_named(ctx.s, ctx.who, name, site) if name is not None else None
    return EntryFilters(site=site, gate=gate, resident=resident, decision=decision, since=as_utc(since),
                        until=as_utc(until), alerts_only=alerts_only, residents=residents)


def review_of(r) -> dict | None:
    if r.review_kind is None:
        return None
    return {"kind": getattr(r.review_kind, "value", r.review_kind), "note": r.review_note, "by": r.review_by,
            "at": r.review_at}


def _person(who: Principal, resident_id, resident_name, household_id, resident_site_id) -> dict:
    if resident_id is not None and resident_site_id is not None and not who.sees(resident_site_id):
        return {"resident_id": None, "resident_name": None, "household_id": None, "person_outside_scope": True}
    return {"resident_id": resident_id, "resident_name": resident_name, "household_id": household_id,
            "person_outside_scope": False}


def _pass(r, who: Principal) -> dict:
    # the host is the server's record of this compound's pass (server/reconcile/passes.py); a name
    # is shown only to callers who see the host's compound
    host_name = getattr(r, "pass_host_name", None)
    if host_name is not None and not who.sees(getattr(r, "pass_host_site_id", None) or ""):
        host_name = None
    return {"visitor_pass_id": str(r.visitor_pass_id) if r.visitor_pass_id else None,
            "pass_host_resident_id": r.pass_host_resident_id, "pass_host_name": host_name,
            "pass_refused": r.pass_refused}


def _item(r, alerts: dict[int, list[dict]], who: Principal) -> dict:
    return {
        "event_id": str(r.event_id), "site_id": r.site_id, "gate_id": r.gate_id, "seq": r.seq,
        "captured_at": r.captured_at, "direction": r.direction, "decision": r.decision,
        "reasons": list(r.reasons or []),
        **_person(who, r.resident_id, r.resident_name, r.household_id, r.resident_site_id),
        "matched_by": getattr(r.matched_by, "value", r.matched_by),
        "score": r.score, "temperature_c": r.temperature_c, "temperature_status": r.temperature_status,
        **_pass(r, who), "alerts": alerts.get(r.id, []),
        "has_face": bool(r.has_face), "review": review_of(r),
    }


@router.get("/entries", response_model=EntryPage)
def list_entries(ctx: EntriesRead, site: str | None = None, gate: str | None = None,
                 resident: str | None = None, decision: Decision | None = None, since: datetime | None = None,
                 until: datetime | None = None, alerts_only: bool = False, limit: Int64 = 50,
                 cursor: str | None = None, name: str | None = None) -> dict:
    """Newest first. `since` is inclusive, `until` exclusive; times without an offset are UTC.
    Pass `next_cursor` back as `cursor` for the next page (null on the last page). `name`: entries
    of the caller's residents whose name contains it (at most 500 residents, else 422)."""
    f = _filters(ctx, site, gate, resident, decision, since, until, alerts_only, name)
    limit = max(1, min(limit, ctx.app.settings.page_limit_max))
    rows, alerts, nxt = fetch_page(ctx.s, f, ctx.who, limit, cursor)
    items = [_item(r, alerts, ctx.who) for r in rows]
    record(ctx.s, ctx.actor, "read", "entry", None, site,
           {"filters": f.as_dict(), "count": len(items), "with_person": sum(1 for i in items if i["resident_id"]),
            "page": bool(cursor)})
    ctx.s.commit()
    return {"items": items, "next_cursor": nxt}


CSV_COLUMNS = ["event_id", "site_id", "gate_id", "seq", "captured_at", "direction", "decision", "reasons",
               "resident_id", "resident_name", "household_id", "matched_by", "score", "temperature_c",
               "temperature_status", "visitor_pass_id", "pass_host_resident_id", "pass_refused", "alerts"]


# Excel trims a leading space and reads the full-width signs an IME types as formula starters too
FORMULA_STARTERS = frozenset("=+-@\t\r ＝＋－＠")


def _cell(v) -> str:
    if v is None:
        return ""
    if isinstance(v, datetime):
        return v.isoformat()
    text = str(v)
    # a name like "=HYPERLINK(...)" must not run as a formula when the office opens the file in Excel
    if text[:1] in FORMULA_STARTERS:
        text = "'" + text
    return text


@router.get("/entries/export.csv", response_class=StreamingResponse,
            responses={200: {"content": {"text/csv": {}}}})
def export_entries(ctx: EntriesExport, site: str | None = None, gate: str | None = None,
                   resident: str | None = None, decision: Decision | None = None, since: datetime | None = None,
                   until: datetime | None = None, alerts_only: bool = False,
                   name: str | None = None) -> StreamingResponse:
    """Every matching entry as CSV (UTF-8 with BOM so Excel shows Chinese names), newest first."""
    f = _filters(ctx, site, gate, resident, decision, since, until, alerts_only, name)
    cap = ctx.app.settings.export_max_rows
    record(ctx.s, ctx.actor, "export", "entry", None, site, {"filters": f.as_dict(), "max_rows": cap})
    ctx.s.commit()
    sessions, who = ctx.app.sessions, ctx.who

    def rows() -> Iterator[bytes]:
        buf = io.StringIO()
        out = csv.writer(buf)
        buf.write("\ufeff")
        out.writerow(CSV_COLUMNS)
        sent, cursor = 0, None
        with sessions() as s:  # its own session: the request's one is closed while this streams
            while sent < cap:
                page, alerts, cursor = fetch_page(s, f, who, min(EXPORT_PAGE, cap - sent), cursor)
                for r in page:
                    item = _item(r, alerts, who)
                    item["reasons"] = ";".join(item["reasons"])
                    item["alerts"] = ";".join(a["kind"] for a in item["alerts"])
                    out.writerow([_cell(item[c]) for c in CSV_COLUMNS])
                sent += len(page)
                yield buf.getvalue().encode()
                buf.seek(0)
                buf.truncate()
                if cursor is None:
                    break

    name = f"entries-{site or 'all'}.csv"
    # HTTP headers are Latin-1: a compound id such as 未来城 goes in the RFC 6266 filename* form,
    # with an ASCII stand-in for old clients (it raised UnicodeEncodeError before)
    plain = re.sub(r"[^A-Za-z0-9._-]", "_", name)
    disposition = f"attachment; filename=\"{plain}\"; filename*=UTF-8''{quote(name, safe='')}"
    return StreamingResponse(rows(), media_type="text/csv; charset=utf-8",
                             headers={"Content-Disposition": disposition,
                                      "Cache-Control": "no-store"})


def _entry(ctx: Ctx, event_id: str) -> Entry:
    eid = event_uuid(event_id)
    e = ctx.s.scalar(select(Entry).where(Entry.event_id == eid)) if eid else None
    if e is None or not ctx.who.sees(e.site_id):
        raise NotFound(f"entry {event_id} not found")
    return e


@router.get("/entries/{event_id}", response_model=EntryDetail)
def get_entry(event_id: str, ctx: EntriesRead) -> EntryDetail:
    e = _entry(ctx, event_id)
    person = ctx.s.execute(select(Resident.name, Resident.site_id).where(Resident.id == e.resident_id)).first() \
        if e.resident_id else None
    shown = _person(ctx.who, e.resident_id, person.name if person else None, e.household_id,
                    person.site_id if person else None)
    hh = shown["household_id"]
    places = placement_of(ctx.s, {hh} if hh else set())
    alerts = alerts_for(ctx.s, [e.id], ctx.who)
    has_face = ctx.s.scalar(select(Entry.face_jpeg.is_not(None)).where(Entry.id == e.id))
    rv = ctx.s.scalar(select(EntryReview).where(EntryReview.entry_id == e.id))
    review = {"kind": rv.kind, "note": rv.note, "by": rv.reviewed_by, "at": rv.reviewed_at} if rv else None
    out = EntryDetail(
        event_id=str(e.event_id), site_id=e.site_id, gate_id=e.gate_id, seq=e.seq, captured_at=e.captured_at,
        direction=e.direction, decision=e.decision, reasons=list(e.reasons or []), **shown,
        matched_by=getattr(e.matched_by, "value", e.matched_by), score=e.score, temperature_c=e.temperature_c,
        temperature_status=e.temperature_status, **_pass(e, ctx.who), alerts=alerts.get(e.id, []), received_at=e.received_at,
        **places.get(hh, {}), gallery_version=e.gallery_version, pack=e.pack,
        temperature_method=e.temperature_method, track=e.track, override=e.override, has_face=bool(has_face),
        review=review)
    record(ctx.s, ctx.actor, "read", "entry", str(e.event_id), e.site_id)
    ctx.s.commit()
    return out


@router.get("/entries/{event_id}/face", response_class=Response, responses={200: {"content": {"image/jpeg": {}}}})
def get_entry_face(event_id: str, ctx: EntriesRead) -> Response:
    e = _entry(ctx, event_id)
    data = ctx.s.scalar(select(Entry.face_jpeg).where(Entry.id == e.id))
    if not data:
        raise NotFound(f"entry {event_id} has no face crop (none sent, or purged by retention)")
    record(ctx.s, ctx.actor, "read", "entry_face", str(e.event_id), e.site_id)
    ctx.s.commit()
    return Response(data, media_type="image/jpeg", headers={"Cache-Control": "no-store"})


@router.get("/entries/{event_id}/enrolled-face", response_class=Response,
            responses={200: {"content": {"image/jpeg": {}}}})
def get_entry_enrolled_face(event_id: str, ctx: EntriesRead) -> Response:
    """The enrolment photo's face crop of the resident the gate named, for the guard to compare
    with the gate's own crop ("is this really her?"). Only for an entry the caller may read and a
    resident of a compound the caller sees; audited as a read of that resident's photo."""
    e = _entry(ctx, event_id)
    row = ctx.s.execute(select(Resident.id, Resident.site_id).where(Resident.id == e.resident_id)).first() \
        if e.resident_id else None
    if row is None or not ctx.who.sees(row.site_id):
        raise NotFound(f"entry {event_id} names no resident of your compounds")
    photo = ctx.s.execute(select(FacePhoto.id, FacePhoto.crop_jpeg)
                          .where(FacePhoto.resident_id == row.id, FacePhoto.variant == FaceVariant.PLAIN,
                                 FacePhoto.crop_jpeg.is_not(None))
                          .order_by(FacePhoto.id).limit(1)).first()
    if photo is None:
        raise NotFound(f"resident {row.id} has no enrolment photo")
    record(ctx.s, ctx.actor, "read", "face_photo", photo.id, row.site_id,
           {"resident_id": row.id, "for_entry": str(e.event_id)})
    ctx.s.commit()
    return Response(photo.crop_jpeg, media_type="image/jpeg", headers={"Cache-Control": "no-store"})
