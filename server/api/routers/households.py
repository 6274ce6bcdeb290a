"""Households of a unit (the residents they hold are in residents.py)."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import func, select

from server.api.bounds import Int32
from server.api.deps import RegistryRead, RegistryWrite
from server.api.routers._registry import (
    NamedIn,
    Out,
    RenameIn,
    commit_unique,
    delete_placement,
    household,
    unit,
)
from server.audit import record
from server.db.models import Household, Resident

router = APIRouter(tags=["registry"])


class HouseholdOut(Out):
    id: int
    unit_id: int
    name: str
    residents: int = 0


@router.post("/units/{unit_id}/households", response_model=HouseholdOut, status_code=201)
def add_household(unit_id: Int32, body: NamedIn, ctx: RegistryWrite):
    u, b = unit(ctx, unit_id)
    h = Household(unit_id=u.id, name=body.name)
    ctx.s.add(h)
    record(ctx.s, ctx.actor, "create", "household", f"{b.name}/{u.name}/{body.name}", b.site_id)
    commit_unique(ctx, f"household {body.name}")
    return HouseholdOut(id=h.id, unit_id=h.unit_id, name=h.name)


@router.get("/units/{unit_id}/households", response_model=list[HouseholdOut])
def list_households(unit_id: Int32, ctx: RegistryRead):
    u, _ = unit(ctx, unit_id)
    rows = ctx.s.execute(
        select(Household, func.count(Resident.id)).outerjoin(Resident, Resident.household_id == Household.id)
        .where(Household.unit_id == u.id).group_by(Household.id).order_by(Household.name)).all()
    return [HouseholdOut(id=h.id, unit_id=h.unit_id, name=h.name, residents=n) for h, n in rows]


@router.patch("/households/{household_id}", response_model=HouseholdOut)
def patch_household(household_id: Int32, body: RenameIn, ctx: RegistryWrite):
    h, b = household(ctx, household_id)
    if body.name:
        h.name = body.name
    record(ctx.s, ctx.actor, "update", "household", household_id, b.site_id, {"fields": ["name"]})
    commit_unique(ctx, f"household {body.name}")
    ctx.app.republisher.mark(b.site_id)
    return HouseholdOut(id=h.id, unit_id=h.unit_id, name=h.name)


@router.delete("/households/{household_id}", status_code=204)
def delete_household(household_id: Int32, ctx: RegistryWrite):
    h, b = household(ctx, household_id)
    return delete_placement(ctx, h, "household", household_id, b.site_id)
