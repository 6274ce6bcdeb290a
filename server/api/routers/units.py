"""Units (flats) of a building."""

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
    unit,
)
from server.audit import record
from server.db.models import Unit

router = APIRouter(tags=["registry"])


class UnitOut(Out):
    id: int
    building_id: int
    name: str


@router.post("/buildings/{building_id}/units", response_model=UnitOut, status_code=201)
def add_unit(building_id: Int32, body: NamedIn, ctx: RegistryWrite):
    b = building(ctx, building_id)
    u = Unit(building_id=b.id, name=body.name)
    ctx.s.add(u)
    record(ctx.s, ctx.actor, "create", "unit", f"{b.name}/{body.name}", b.site_id)
    commit_unique(ctx, f"unit {body.name}")
    return u


@router.get("/buildings/{building_id}/units", response_model=list[UnitOut])
def list_units(building_id: Int32, ctx: RegistryRead):
    b = building(ctx, building_id)
    return ctx.s.scalars(select(Unit).where(Unit.building_id == b.id).order_by(Unit.name)).all()


@router.delete("/units/{unit_id}", status_code=204)
def delete_unit(unit_id: Int32, ctx: RegistryWrite):
    u, b = unit(ctx, unit_id)
    return delete_placement(ctx, u, "unit", unit_id, b.site_id)


@router.patch("/units/{unit_id}", response_model=UnitOut)
def patch_unit(unit_id: Int32, body: RenameIn, ctx: RegistryWrite):
    u, b = unit(ctx, unit_id)
    if body.name:
        u.name = body.name
    record(ctx.s, ctx.actor, "update", "unit", unit_id, b.site_id, {"fields": ["name"]})
    commit_unique(ctx, f"unit {body.name}")
    ctx.app.republisher.mark(b.site_id)
    return u
