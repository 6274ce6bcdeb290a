"""Who is inside a compound now, from what its gates recorded.

A resident is inside when her latest passage through a door of the compound within the last
`days` days went in: of her entries at this compound's gates in the window, the newest one with
decision `granted` (the door opened for her) has direction `in`. A refused or alert entry opened
nothing, so it moves no one: a quarantined resident refused at the exit is still inside. Someone
whose last passage is older than the window is not listed (we do not know any more), and neither
is a visitor (entries of a pass name no resident). Ties on the same instant go to the later row.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from fastapi import APIRouter
from pydantic import BaseModel
from sqlalchemy import func, select

from server.api.deps import EntriesRead
from server.audit import record
from server.db.models import Entry, Resident, Site
from server.db.types import utcnow
from server.registry.service import InvalidInput, NotFound, placement_of

router = APIRouter(tags=["entries"])
MAX_DAYS = 366
MAX_ITEMS = 5000


class Inside(BaseModel):
    resident_id: str
    name: str
    household_id: int | None
    building: str | None = None
    unit: str | None = None
    household: str | None = None
    entered_at: datetime
    gate_id: str
    event_id: str


class InsideNow(BaseModel):
    site_id: str
    since: datetime
    days: int
    count: int
    truncated: bool  # more than MAX_ITEMS inside: the newest arrivals are listed
    items: list[Inside]


@router.get("/sites/{site_id}/inside", response_model=InsideNow)
def inside_now(site_id: str, ctx: EntriesRead, days: int = 30) -> InsideNow:
    """Residents inside the compound now: their newest granted passage in the last `days` days went in."""
    if ctx.s.get(Site, ctx.require_site(site_id)) is None:
        raise NotFound(f"site {site_id} not found")
    if not 1 <= days <= MAX_DAYS:
        raise InvalidInput(f"days must be 1 to {MAX_DAYS}")
    since = utcnow() - timedelta(days=days)
    newest = func.row_number().over(partition_by=Entry.resident_id,
                                    order_by=(Entry.captured_at.desc(), Entry.id.desc())).label("n")
    last = (select(Entry.resident_id, Entry.direction, Entry.captured_at, Entry.gate_id, Entry.event_id, newest)
            .where(Entry.site_id == site_id, Entry.captured_at >= since, Entry.decision == "granted",
                   Entry.resident_id.is_not(None))
            .subquery())
    q = (select(last.c.resident_id, last.c.captured_at, last.c.gate_id, last.c.event_id, Resident.name,
                Resident.household_id, Resident.site_id)
         .join(Resident, Resident.id == last.c.resident_id)
         .where(last.c.n == 1, last.c.direction == "in")
         .order_by(last.c.captured_at.desc(), last.c.resident_id))
    # a resident of another compound the caller does not see (district re-match) is not named here
    rows = [r for r in ctx.s.execute(q) if ctx.who.sees(r.site_id)]
    shown = rows[:MAX_ITEMS]
    places = placement_of(ctx.s, {r.household_id for r in shown if r.household_id})
    items = [Inside(resident_id=r.resident_id, name=r.name, household_id=r.household_id,
                    **places.get(r.household_id, {}), entered_at=r.captured_at, gate_id=r.gate_id,
                    event_id=str(r.event_id)) for r in shown]
    record(ctx.s, ctx.actor, "read", "inside", None, site_id,
           {"days": days, "count": len(rows), "ids": [i.resident_id for i in items][:100]})
    ctx.s.commit()
    return InsideNow(site_id=site_id, since=since, days=days, count=len(rows), truncated=len(rows) > MAX_ITEMS,
                     items=items)
