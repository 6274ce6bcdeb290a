"""Buildings of a compound, each optionally attached to a grid."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import select

from server.api.bounds import Int32
from server.api.deps import RegistryRead, RegistryWrite
from server.api.routers._registry import (
    NamedIn,
    Out,
    RenameIn,
    building,
    commit_unique,
    delete_placement,
    grid,
)
from server.audit import record
from server.db.models import Building, Site
from server.registry.service import NotFound

router = APIRouter(tags=["registry"])


class BuildingOut(Out):
    id: int
    site_id: str
    name: str
    grid_id: str | None


@router.post("/sites/{site_id}/buildings", response_model=BuildingOut, status_code=201)
def add_building(site_id: str, body: NamedIn, ctx: RegistryWrite):
    ctx.require_site(site_id)
    if ctx.s.get(Site, site_id) is None:
        raise NotFound(f"site {site_id} not found")
    if body.grid_id:
        grid(ctx, body.grid_id)  # in the caller's scope: an officer cannot use another compound's grid
    b = Building(site_id=site_id, name=body.name, grid_id=body.grid_id)
    ctx.s.add(b)
    record(ctx.s, ctx.actor, "create", "building", body.name, site_id)
    commit_unique(ctx, f"building {body.name}")
    return b


@router.get("/sites/{site_id}/buildings", response_model=list[BuildingOut])
def list_buildings(site_id: str, ctx: RegistryRead):
    ctx.require_site(site_id)
    return ctx.s.scalars(select(Building).where(Building.site_id == site_id).order_by(Building.name)).all()


@router.delete("/buildings/{building_id}", status_code=204)
def delete_building(building_id: Int32, ctx: RegistryWrite):
    b = building(ctx, building_id)
    return delete_placement(ctx, b, "building", building_id, b.site_id)


@router.patch("/buildings/{building_id}", response_model=BuildingOut)
def patch_building(building_id: Int32, body: RenameIn, ctx: RegistryWrite):
    b = building(ctx, building_id)
    changes = body.model_dump(exclude_unset=True)
    if body.grid_id:
        grid(ctx, body.grid_id)
    for k, v in changes.items():
        setattr(b, k, v)
    record(ctx.s, ctx.actor, "update", "building", building_id, b.site_id, {"fields": sorted(changes)})
    commit_unique(ctx, f"building {body.name}")
    ctx.app.republisher.mark(b.site_id)  # names are shown by gates
    return b
