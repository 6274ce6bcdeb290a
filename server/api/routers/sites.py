"""Compounds (sites): the unit of scope every other record belongs to."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from server.api.bounds import ref
from server.api.deps import SitesRead, SitesWrite
from server.api.routers._registry import ID, NAME, Out, require_new, require_ref
from server.audit import record
from server.db.models import Community, Site
from server.registry.service import Conflict, NotFound

router = APIRouter(tags=["registry"])


class SiteIn(BaseModel):
    id: str = ID
    name: str = NAME
    community_id: str | None = ref()
    address: str | None = Field(default=None, max_length=500)


class SitePatch(BaseModel):
    # `str` with a None default: leaving the field out keeps the name, an explicit null is refused
    name: str = Field(default=None, min_length=1, max_length=200)
    community_id: str | None = ref()
    address: str | None = Field(default=None, max_length=500)


class SiteOut(Out):
    id: str
    name: str
    community_id: str | None
    address: str | None
    created_at: datetime
    control_level: str = "normal"
    control_level_at: datetime | None = None
    control_level_by: str | None = None


@router.post("/sites", response_model=SiteOut, status_code=201)
def add_site(body: SiteIn, ctx: SitesWrite):
    require_new(ctx, Site, body.id, "site")
    require_ref(ctx, Community, body.community_id, "community")
    site = Site(**body.model_dump())
    ctx.s.add(site)
    record(ctx.s, ctx.actor, "create", "site", body.id, body.id)
    ctx.s.commit()
    return site


@router.get("/sites", response_model=list[SiteOut])
def list_sites(ctx: SitesRead):
    q = select(Site).order_by(Site.id)
    if ctx.who.sites is not None:
        q = q.where(Site.id.in_(ctx.who.sites))
    return ctx.s.scalars(q).all()


@router.get("/sites/{site_id}", response_model=SiteOut)
def get_site(site_id: str, ctx: SitesRead):
    ctx.require_site(site_id)
    site = ctx.s.get(Site, site_id)
    if site is None:
        raise NotFound(f"site {site_id} not found")
    return site


@router.patch("/sites/{site_id}", response_model=SiteOut)
def patch_site(site_id: str, body: SitePatch, ctx: SitesWrite):
    site = ctx.s.get(Site, site_id)
    if site is None:
        raise NotFound(f"site {site_id} not found")
    changes = body.model_dump(exclude_unset=True)
    require_ref(ctx, Community, body.community_id, "community")
    for k, v in changes.items():
        setattr(site, k, v)
    record(ctx.s, ctx.actor, "update", "site", site_id, site_id, {"fields": sorted(changes)})
    ctx.s.commit()
    return site


@router.delete("/sites/{site_id}", status_code=204)
def delete_site(site_id: str, ctx: SitesWrite):
    site = ctx.s.get(Site, site_id)
    if site is None:
        raise NotFound(f"site {site_id} not found")
    ctx.s.delete(site)
    record(ctx.s, ctx.actor, "delete", "site", site_id, site_id)
    try:
        ctx.s.commit()
    except IntegrityError:
        # entries keep their site (the entry log is a record); such a compound cannot vanish
        raise Conflict(f"site {site_id} has entries or other records and cannot be deleted") from None
    ctx.app.republisher.cancel(site_id)  # a rebuild scheduled by an edit just before has nothing to publish
    return Response(status_code=204)
