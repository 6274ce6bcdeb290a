"""Subdistricts and communities: the areas compounds and grids belong to."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel
from sqlalchemy import select

from server.api.bounds import ref
from server.api.deps import SitesRead, SitesWrite
from server.api.routers._registry import ID, NAME, Out, require_new, require_ref
from server.audit import record
from server.db.models import Community, Subdistrict

router = APIRouter(tags=["registry"])


class AreaIn(BaseModel):
    id: str = ID
    name: str = NAME
    subdistrict_id: str | None = ref()  # communities only


class AreaOut(Out):
    id: str
    name: str
    created_at: datetime


class CommunityOut(AreaOut):
    subdistrict_id: str | None


@router.post("/subdistricts", response_model=AreaOut, status_code=201)
def add_subdistrict(body: AreaIn, ctx: SitesWrite):
    require_new(ctx, Subdistrict, body.id, "subdistrict")
    row = Subdistrict(id=body.id, name=body.name)
    ctx.s.add(row)
    record(ctx.s, ctx.actor, "create", "subdistrict", body.id)
    ctx.s.commit()
    return row


@router.get("/subdistricts", response_model=list[AreaOut])
def list_subdistricts(ctx: SitesRead):
    return ctx.s.scalars(select(Subdistrict).order_by(Subdistrict.id)).all()


@router.post("/communities", response_model=CommunityOut, status_code=201)
def add_community(body: AreaIn, ctx: SitesWrite):
    require_new(ctx, Community, body.id, "community")
    require_ref(ctx, Subdistrict, body.subdistrict_id, "subdistrict")
    row = Community(id=body.id, name=body.name, subdistrict_id=body.subdistrict_id)
    ctx.s.add(row)
    record(ctx.s, ctx.actor, "create", "community", body.id)
    ctx.s.commit()
    return row


@router.get("/communities", response_model=list[CommunityOut])
def list_communities(ctx: SitesRead):
    return ctx.s.scalars(select(Community).order_by(Community.id)).all()
