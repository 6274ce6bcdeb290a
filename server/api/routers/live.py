"""Live entries for the guard's screen: server-sent events, newest entries as they are committed.

Why polling the entries table rather than a message from the ingest worker: the worker may run in
another process (`menwei server ingest`), on another host, and the row is what the log shows; a
keyset poll on the primary key (`id > last`) every `LIVE_POLL_S` costs one index probe, and an
entry reaches the screen within that interval of its commit (target: 1 s after the gate decided).

The stream ends when the caller's token expires or the account may no longer read entries (checked
on every poll, like every request; the page logs in again) or the server stops, and
resumes after a reconnect from the browser's Last-Event-ID, so nothing committed meanwhile is
skipped. Each batch
that names a person is audited like a page of the entry log.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import replace

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from sqlalchemy import func, select
from starlette.concurrency import run_in_threadpool

from server.api.bounds import Int64
from server.api.deps import Ctx, EntriesRead, Unauthorized, principal_of
from server.api.entries_query import EntryFilters, alerts_for, entries_query
from server.api.roles import Perm
from server.api.routers.entries import EntryItem, _item
from server.audit import record
from server.db.models import Entry

router = APIRouter(tags=["live"])
LIVE_POLL_S = 0.25
KEEPALIVE_S = 15.0  # a comment line now and then keeps proxies from closing an idle stream
BATCH = 100


def _sse(event: str, data: str, event_id: int | None = None) -> str:
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {event}\ndata: {data}\n\n"


def _start_id(ctx: Ctx, after_id: int | None) -> int:
    if after_id is not None:
        return after_id
    with ctx.app.sessions() as s:  # only what arrives from now on
        return int(s.scalar(select(func.coalesce(func.max(Entry.id), 0))))


def _poll(ctx: Ctx, token: str, f: EntryFilters, last: int) -> list[dict] | None:
    """The entries committed after `last` (None: the caller may no longer read them)."""
    with ctx.app.sessions() as s:
        # asked again on every poll, as every request asks: a disabled account, a changed password,
        # role or compound list takes effect within a poll, not when the token expires
        try:
            who = principal_of(s, ctx.app, token)
        except Unauthorized:
            return None
        if not who.can(Perm.ENTRIES_READ) or (f.site is not None and not who.sees(f.site)):
            return None
        ctx = replace(ctx, who=who)
        q = entries_query(f, ctx.who).where(Entry.id > last).order_by(None).order_by(Entry.id.asc()).limit(BATCH)
        rows = s.execute(q).all()
        if not rows:
            return []
        alerts = alerts_for(s, [r.id for r in rows if r.has_alert], ctx.who)
        items = [{"id": r.id, **EntryItem(**_item(r, alerts, ctx.who)).model_dump(mode="json")} for r in rows]
        record(s, ctx.actor, "read", "entry", None, f.site,
               {"live": True, "count": len(items), "with_person": sum(1 for i in items if i["resident_id"])})
        s.commit()
        return items


@router.get("/live/entries", response_class=StreamingResponse,
            responses={200: {"content": {"text/event-stream": {}}}})
async def live_entries(request: Request, ctx: EntriesRead, site: str | None = None,
                       after_id: Int64 | None = None) -> StreamingResponse:
    """`event: entry` per committed entry (the entry log's item plus its row `id`), oldest first;
    `id:` is the row id, so a reconnect with Last-Event-ID continues where the stream stopped.
    Without `after_id` only entries committed from now on. `event: expired` ends the stream."""
    if site is not None:
        ctx.require_site(site)
    f = EntryFilters(site=site)
    resume = request.headers.get("last-event-id")
    if resume is not None and resume.isdigit():
        after_id = int(resume)
    last = await run_in_threadpool(_start_id, ctx, after_id)
    token = request.headers.get("authorization", "").removeprefix("Bearer ").strip()

    async def stream() -> AsyncIterator[str]:
        nonlocal last
        yield _sse("ready", json.dumps({"after_id": last}))
        quiet = 0.0
        while not ctx.app.closing.is_set() and not await request.is_disconnected():
            items = await run_in_threadpool(_poll, ctx, token, f, last)
            if items is None:
                yield _sse("expired", "{}")
                return
            for item in items:
                last = item["id"]
                yield _sse("entry", json.dumps(item, ensure_ascii=False), last)
            quiet = 0.0 if items else quiet + LIVE_POLL_S
            if quiet >= KEEPALIVE_S:
                quiet = 0.0
                yield ": keepalive\n\n"
            await asyncio.sleep(LIVE_POLL_S)

    return StreamingResponse(stream(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
