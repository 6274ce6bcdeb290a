"""Marking a recognition as wrong: one review per entry, set (or replaced) and withdrawn by an
officer of the entry's compound, audited; the review figures (`/stats/reviews`) count them."""

from __future__ import annotations

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from server.api.deps import EntriesReview
from server.api.routers.entries import ReviewOut, _entry
from server.audit import record
from server.db.models import EntryReview, ReviewKind
from server.db.types import utcnow
from server.registry.service import NotFound

router = APIRouter(tags=["entries"])


class ReviewIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: ReviewKind
    note: str | None = Field(default=None, max_length=500)


def _out(rv: EntryReview) -> ReviewOut:
    return ReviewOut(kind=rv.kind, note=rv.note, by=rv.reviewed_by, at=rv.reviewed_at)


@router.put("/entries/{event_id}/review", response_model=ReviewOut)
def put_review(event_id: str, body: ReviewIn, ctx: EntriesReview) -> ReviewOut:
    """Say what the gate got wrong on this entry; a second PUT replaces the first."""
    e = _entry(ctx, event_id)  # 404 outside the caller's compounds, as for an unknown id
    rv = ctx.s.scalar(select(EntryReview).where(EntryReview.entry_id == e.id))
    before = str(rv.kind) if rv else None
    if rv is None:
        rv = EntryReview(entry_id=e.id, site_id=e.site_id, gate_id=e.gate_id, captured_at=e.captured_at)
        ctx.s.add(rv)
    note = (body.note or "").strip() or None
    rv.kind, rv.note, rv.reviewed_by, rv.reviewed_at = body.kind, note, ctx.who.username, utcnow()
    # the note is free text an officer typed (it may name people): its length is logged, not its words
    record(ctx.s, ctx.actor, "review", "entry", str(e.event_id), e.site_id,
           {"kind": str(body.kind), "replaced": before, "note_chars": len(note or ""),
            "resident_id": e.resident_id, "gate_id": e.gate_id})
    ctx.s.commit()
    return _out(rv)


@router.delete("/entries/{event_id}/review", status_code=204, response_class=Response)
def delete_review(event_id: str, ctx: EntriesReview) -> Response:
    e = _entry(ctx, event_id)
    rv = ctx.s.scalar(select(EntryReview).where(EntryReview.entry_id == e.id))
    if rv is None:
        raise NotFound(f"entry {event_id} has no review")
    record(ctx.s, ctx.actor, "delete_review", "entry", str(e.event_id), e.site_id, {"kind": str(rv.kind)})
    ctx.s.delete(rv)
    ctx.s.commit()
    return Response(status_code=204)
