"""Daily figures per compound: entries, granted/denied/alert, unique residents, fevers.

Days are calendar days in the compounds' time zone (settings.timezone, Asia/Shanghai by default):
an office's "Tuesday" runs from 00:00 to 24:00 local time, not UTC.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter
from pydantic import BaseModel
from sqlalchemy import case, func, select

from server.api.deps import StatsRead
from server.api.entries_query import as_utc
from server.db.models import Entry, EntryReview, ReviewKind
from server.registry.service import InvalidInput

router = APIRouter(tags=["stats"])
MAX_DAYS = 366


class DayFigures(BaseModel):
    site_id: str
    day: date
    entries: int
    granted: int
    denied: int
    alert: int
    unique_residents: int
    fevers: int


class Daily(BaseModel):
    timezone: str
    items: list[DayFigures]


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(f"unknown time zone {name!r}") from None


def _local_day(dialect: str, tz: ZoneInfo, tz_name: str, start: datetime):
    if dialect == "postgresql":
        return func.date(func.timezone(tz_name, Entry.captured_at))
    # SQLite stores UTC text; shift by the zone's offset (fixed over the range: no DST in China;
    # elsewhere a DST change inside the range shifts one hour of one day)
    minutes = int(tz.utcoffset(start).total_seconds() // 60)
    return func.date(Entry.captured_at, f"{minutes:+d} minutes")


@router.get("/stats/daily", response_model=Daily)
def daily(ctx: StatsRead, site: str | None = None, since: date | None = None, until: date | None = None,
          tz: str | None = None) -> Daily:
    """Figures for each day from `since` to `until` (both inclusive, local dates; default: last 7 days)."""
    tz_name = tz or ctx.app.settings.timezone
    zone = _zone(tz_name)
    today = datetime.now(zone).date()
    until = until or today
    since = since or until - timedelta(days=6)
    if since > until or (until - since).days >= MAX_DAYS:
        raise InvalidInput(f"since must be on or before until, at most {MAX_DAYS} days apart")
    try:
        start = datetime.combine(since, time(0), zone).astimezone(UTC)
        end = datetime.combine(until + timedelta(days=1), time(0), zone).astimezone(UTC)
    except OverflowError:
        raise InvalidInput("since and until must lie between 0002-01-01 and 9998-12-30") from None
    day = _local_day(ctx.s.get_bind().dialect.name, zone, tz_name, start).label("day")
    q = (select(Entry.site_id, day, func.count().label("entries"),
                func.sum(case((Entry.decision == "granted", 1), else_=0)),
                func.sum(case((Entry.decision == "denied", 1), else_=0)),
                func.sum(case((Entry.decision == "alert", 1), else_=0)),
                func.count(func.distinct(Entry.resident_id)),
                func.sum(case((Entry.temperature_status == "fever", 1), else_=0)))
         .where(Entry.captured_at >= start, Entry.captured_at < end))
    if site is not None:
        q = q.where(Entry.site_id == ctx.require_site(site))
    elif ctx.who.sites is not None:
        q = q.where(Entry.site_id.in_(sorted(ctx.who.sites)))
    rows = ctx.s.execute(q.group_by(Entry.site_id, day).order_by(Entry.site_id, day)).all()
    items = [DayFigures(site_id=r[0], day=r[1] if isinstance(r[1], date) else date.fromisoformat(r[1]),
                        entries=r[2], granted=r[3] or 0, denied=r[4] or 0, alert=r[5] or 0,
                        unique_residents=r[6] or 0, fevers=r[7] or 0) for r in rows]
    return Daily(timezone=tz_name, items=items)


class HourFigures(BaseModel):
    hour: int  # local hour of the day, 0-23
    entries: int
    granted: int
    denied: int
    alert: int
    fevers: int
    unknown_faces: int


class GateFigures(BaseModel):
    site_id: str
    gate_id: str
    entries: int
    granted: int
    denied: int
    alert: int


class Hourly(BaseModel):
    timezone: str
    day: date
    hours: list[HourFigures]  # always 24
    gates: list[GateFigures]


@router.get("/stats/hourly", response_model=Hourly)
def hourly(ctx: StatsRead, site: str | None = None, day: date | None = None, tz: str | None = None) -> Hourly:
    """One local day hour by hour (entries, decisions, fevers, unknown faces) and per gate: the
    dashboard's figures. Counted in Python over that day's rows, a bounded set, because whether a
    reason list holds `unknown_face` is spelled differently in each database's JSON dialect."""
    tz_name = tz or ctx.app.settings.timezone
    zone = _zone(tz_name)
    day = day or datetime.now(zone).date()
    try:
        start = datetime.combine(day, time(0), zone).astimezone(UTC)
        end = datetime.combine(day + timedelta(days=1), time(0), zone).astimezone(UTC)
    except OverflowError:
        raise InvalidInput("day must lie between 0002-01-01 and 9998-12-30") from None
    q = (select(Entry.captured_at, Entry.site_id, Entry.gate_id, Entry.decision, Entry.temperature_status,
                Entry.reasons)
         .where(Entry.captured_at >= start, Entry.captured_at < end))
    if site is not None:
        q = q.where(Entry.site_id == ctx.require_site(site))
    elif ctx.who.sites is not None:
        q = q.where(Entry.site_id.in_(sorted(ctx.who.sites)))
    # plain dicts in the loop, models at the end: attribute writes on pydantic models made this
    # loop most of the dashboard's wait (bench/web_paint_bench.py, a busy day of two compounds)
    keys = ("entries", "granted", "denied", "alert", "fevers", "unknown_faces")
    hours = [dict.fromkeys(keys, 0) for _ in range(24)]
    gates: dict[tuple[str, str], dict[str, int]] = {}
    for at, site_id, gate_id, decision, temp_status, reasons in ctx.s.execute(q):
        if at.tzinfo is None:  # SQLite returns naive UTC
            at = at.replace(tzinfo=UTC)
        h = hours[at.astimezone(zone).hour]
        g = gates.get((site_id, gate_id))
        if g is None:
            g = gates[(site_id, gate_id)] = dict.fromkeys(keys[:4], 0)
        h["entries"] += 1
        g["entries"] += 1
        if decision in ("granted", "denied", "alert"):
            h[decision] += 1
            g[decision] += 1
        if temp_status == "fever":
            h["fevers"] += 1
        if reasons and "unknown_face" in reasons:
            h["unknown_faces"] += 1
    return Hourly(timezone=tz_name, day=day, hours=[HourFigures(hour=i, **h) for i, h in enumerate(hours)],
                  gates=[GateFigures(site_id=k[0], gate_id=k[1], **g) for k, g in sorted(gates.items())])


class GateReviews(BaseModel):
    site_id: str
    gate_id: str
    wrong_person: int
    stranger: int
    missed_resident: int
    total: int


class Reviews(BaseModel):
    since: datetime
    until: datetime
    items: list[GateReviews]


@router.get("/stats/reviews", response_model=Reviews)
def reviews(ctx: StatsRead, site: str | None = None, since: datetime | None = None,
            until: datetime | None = None) -> Reviews:
    """Recognitions marked as wrong, per compound and gate, counted per kind, for entries captured
    from `since` (inclusive, default 7 days ago) to `until` (exclusive, default now). Counts only:
    no person, so property companies may read them too."""
    until = as_utc(until) or datetime.now(UTC)
    since = as_utc(since) or until - timedelta(days=7)
    if since > until:
        raise InvalidInput("since must be on or before until")
    q = (select(EntryReview.site_id, EntryReview.gate_id, EntryReview.kind, func.count())
         .where(EntryReview.captured_at >= since, EntryReview.captured_at < until))
    if site is not None:
        q = q.where(EntryReview.site_id == ctx.require_site(site))
    elif ctx.who.sites is not None:
        q = q.where(EntryReview.site_id.in_(sorted(ctx.who.sites)))
    per_gate: dict[tuple[str, str], dict[str, int]] = {}
    for site_id, gate_id, kind, n in ctx.s.execute(q.group_by(EntryReview.site_id, EntryReview.gate_id,
                                                              EntryReview.kind)):
        counts = per_gate.setdefault((site_id, gate_id), {k.value: 0 for k in ReviewKind})
        counts[ReviewKind(kind).value] += n
    items = [GateReviews(site_id=k[0], gate_id=k[1], **c, total=sum(c.values())) for k, c in sorted(per_gate.items())]
    return Reviews(since=since, until=until, items=items)
