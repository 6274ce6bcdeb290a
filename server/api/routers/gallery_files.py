"""Gallery files: download by gates (signed link), status and manual republish for operators."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel
from sqlalchemy import select

from server.api.bounds import Int32
from server.api.deps import Ctx, Forbidden, GatesRead, RegistryWrite, Session_, Unauthorized, app_state
from server.audit import Actor, record
from server.db.models import GalleryVersion, Gate
from server.registry.service import NotFound, get_site

router = APIRouter(tags=["gallery"])


class GalleryInfo(BaseModel):
    site_id: str
    pack: str
    version: int
    sha256: str
    count: int
    created_at: datetime


class PublishOut(BaseModel):
    site_id: str
    version: int
    sha256: str
    count: int
    created: bool
    announced: int


@router.get("/gallery/{site_id}/{version}", response_class=Response,
            responses={200: {"content": {"application/octet-stream": {}}}})
def download(site_id: str, version: Int32, request: Request, s: Session_, gate: str = "", sig: str = "") -> Response:
    """For gates: the link from their retained ctl/gallery announcement (see docs/API.md)."""
    state = app_state(request)
    g = s.get(Gate, gate) if gate else None
    # the signature covers the gate's current credentials: a link from before a rotation is dead.
    # A non-ASCII sig cannot be ours (and compare_digest refuses non-ASCII str).
    generation = None if g is None else (g.mqtt_password_hash or "")
    if not gate or not sig or not sig.isascii() or not state.signer.check(site_id, version, gate, sig, generation):
        raise Unauthorized("invalid or missing gallery link signature")
    if g is None or g.site_id != site_id or not g.active:
        raise Forbidden(f"gate {gate} may not fetch this gallery")
    row = s.scalar(select(GalleryVersion).where(GalleryVersion.site_id == site_id,
                                                GalleryVersion.pack == state.settings.pack,
                                                GalleryVersion.version == version))
    if row is None or row.data is None:
        raise NotFound(f"gallery {site_id} v{version} is gone; fetch the version now announced")
    data, sha = row.data, row.sha256
    ip = request.client.host if request.client else None
    record(s, Actor(f"gate:{gate}", None, ip), "download", "gallery", f"{site_id}/{version}", site_id)
    s.commit()
    return Response(data, media_type="application/octet-stream",
                    headers={"ETag": f'"{sha}"', "X-Menwei-Sha256": sha, "Cache-Control": "private, max-age=31536000"})


def _latest(ctx: Ctx, site_id: str) -> GalleryVersion | None:
    return ctx.app.gallery.latest(ctx.s, site_id)


@router.get("/sites/{site_id}/gallery", response_model=GalleryInfo)
def gallery_info(site_id: str, ctx: GatesRead) -> GalleryInfo:
    ctx.require_site(site_id)
    row = _latest(ctx, site_id)
    if row is None:
        raise NotFound(f"site {site_id} has no published gallery yet")
    return GalleryInfo(site_id=site_id, pack=row.pack, version=row.version, sha256=row.sha256, count=row.count,
                       created_at=row.created_at)


@router.post("/sites/{site_id}/gallery/publish", response_model=PublishOut)
def publish(site_id: str, ctx: RegistryWrite, force: bool = False) -> PublishOut:
    """Build and announce now (normally automatic after registry changes)."""
    ctx.require_site(site_id)
    get_site(ctx.s, site_id)
    record(ctx.s, ctx.actor, "publish", "gallery", site_id, site_id, {"force": force})
    ctx.s.commit()
    p = ctx.app.gallery.publish(site_id, force=force)
    return PublishOut(site_id=site_id, version=p.version, sha256=p.sha256, count=p.count, created=p.created,
                      announced=p.announced)
