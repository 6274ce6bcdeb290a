"""The registry's structure: subdistricts, communities, compounds (sites), buildings, units,
households, grids and grid workers. Residents are in residents.py."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from server.api.deps import Ctx, Forbidden, RegistryRead, RegistryWrite, SitesRead, SitesWrite
from server.api.errors import Int64, ref
from server.audit import record
from server.db.models import (
    Building,
    Community,
    Grid,
    GridWorker,
    Household,
    Resident,
    Site,
    Subdistrict,
    Unit,
    User,
)
from server.registry.service import Conflict, InvalidInput, NotFound

router = APIRouter(tags=["registry"])

ID = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")
NAME = Field(min_length=1, max_length=200)


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


# ------------------------------------------------------------------ subdistricts / communities
class AreaIn(BaseModel):
    id: str = ID
    name: str = NAME
    subdistrict_id: str | None = ref()  # communities only


class AreaOut(_Out):
    id: str
    name: str
    created_at: datetime


class CommunityOut(AreaOut):
    subdistrict_id: str | None


@router.post("/subdistricts", response_model=AreaOut, status_code=201)
def add_subdistrict(body: AreaIn, ctx: SitesWrite):
    if ctx.s.get(Subdistrict, body.id):
        raise Conflict(f"subdistrict {body.id} exists")
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
    if ctx.s.get(Community, body.id):
        raise Conflict(f"community {body.id} exists")
    if body.subdistrict_id and ctx.s.get(Subdistrict, body.subdistrict_id) is None:
        raise InvalidInput(f"subdistrict {body.subdistrict_id} does not exist")
    row = Community(id=body.id, name=body.name, subdistrict_id=body.subdistrict_id)
    ctx.s.add(row)
    record(ctx.s, ctx.actor, "create", "community", body.id)
    ctx.s.commit()
    return row


@router.get("/communities", response_model=list[CommunityOut])
def list_communities(ctx: SitesRead):
    return ctx.s.scalars(select(Community).order_by(Community.id)).all()


# ----------------------------------------------------------------------------------- sites
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


class SiteOut(_Out):
    id: str
    name: str
    community_id: str | None
    address: str | None
    created_at: datetime


@router.post("/sites", response_model=SiteOut, status_code=201)
def add_site(body: SiteIn, ctx: SitesWrite):
    if ctx.s.get(Site, body.id):
        raise Conflict(f"site {body.id} exists")
    if body.community_id and ctx.s.get(Community, body.community_id) is None:
        raise InvalidInput(f"community {body.community_id} does not exist")
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
    if body.community_id and ctx.s.get(Community, body.community_id) is None:
        raise InvalidInput(f"community {body.community_id} does not exist")
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
    return Response(status_code=204)


# --------------------------------------------------------------- buildings, units, households
class NamedIn(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    grid_id: str | None = ref()  # buildings only


class BuildingOut(_Out):
    id: int
    site_id: str
    name: str
    grid_id: str | None


class UnitOut(_Out):
    id: int
    building_id: int
    name: str


class HouseholdOut(_Out):
    id: int
    unit_id: int
    name: str
    residents: int = 0


def _building(ctx: Ctx, building_id: Int64) -> Building:
    b = ctx.s.get(Building, building_id)
    if b is None or not ctx.who.sees(b.site_id):
        raise NotFound(f"building {building_id} not found")
    return b


def _unit(ctx: Ctx, unit_id: Int64) -> tuple[Unit, Building]:
    u = ctx.s.get(Unit, unit_id)
    if u is None:
        raise NotFound(f"unit {unit_id} not found")
    b = ctx.s.get(Building, u.building_id)
    if not ctx.who.sees(b.site_id):
        raise NotFound(f"unit {unit_id} not found")
    return u, b


def _household(ctx: Ctx, household_id: Int64) -> tuple[Household, Building]:
    h = ctx.s.get(Household, household_id)
    if h is None:
        raise NotFound(f"household {household_id} not found")
    u, b = _unit(ctx, h.unit_id)
    return h, b


def _commit_unique(ctx: Ctx, what: str) -> None:
    try:
        ctx.s.commit()
    except IntegrityError:
        ctx.s.rollback()
        raise Conflict(f"{what} already exists") from None


@router.post("/sites/{site_id}/buildings", response_model=BuildingOut, status_code=201)
def add_building(site_id: str, body: NamedIn, ctx: RegistryWrite):
    ctx.require_site(site_id)
    if ctx.s.get(Site, site_id) is None:
        raise NotFound(f"site {site_id} not found")
    if body.grid_id:
        _grid(ctx, body.grid_id)  # in the caller's scope: an officer cannot use another compound's grid
    b = Building(site_id=site_id, name=body.name, grid_id=body.grid_id)
    ctx.s.add(b)
    record(ctx.s, ctx.actor, "create", "building", body.name, site_id)
    _commit_unique(ctx, f"building {body.name}")
    return b


@router.get("/sites/{site_id}/buildings", response_model=list[BuildingOut])
def list_buildings(site_id: str, ctx: RegistryRead):
    ctx.require_site(site_id)
    return ctx.s.scalars(select(Building).where(Building.site_id == site_id).order_by(Building.name)).all()


@router.delete("/buildings/{building_id}", status_code=204)
def delete_building(building_id: Int64, ctx: RegistryWrite):
    b = _building(ctx, building_id)
    ctx.s.delete(b)
    record(ctx.s, ctx.actor, "delete", "building", building_id, b.site_id)
    ctx.s.commit()
    ctx.app.republisher.mark(b.site_id)
    return Response(status_code=204)


class RenameIn(BaseModel):
    name: str = Field(default=None, min_length=1, max_length=100)  # left out: unchanged; null: refused
    grid_id: str | None = ref()  # buildings only


@router.patch("/buildings/{building_id}", response_model=BuildingOut)
def patch_building(building_id: Int64, body: RenameIn, ctx: RegistryWrite):
    b = _building(ctx, building_id)
    changes = body.model_dump(exclude_unset=True)
    if body.grid_id:
        _grid(ctx, body.grid_id)
    for k, v in changes.items():
        setattr(b, k, v)
    record(ctx.s, ctx.actor, "update", "building", building_id, b.site_id, {"fields": sorted(changes)})
    _commit_unique(ctx, f"building {body.name}")
    ctx.app.republisher.mark(b.site_id)  # names are shown by gates
    return b


@router.post("/buildings/{building_id}/units", response_model=UnitOut, status_code=201)
def add_unit(building_id: Int64, body: NamedIn, ctx: RegistryWrite):
    b = _building(ctx, building_id)
    u = Unit(building_id=b.id, name=body.name)
    ctx.s.add(u)
    record(ctx.s, ctx.actor, "create", "unit", f"{b.name}/{body.name}", b.site_id)
    _commit_unique(ctx, f"unit {body.name}")
    return u


@router.get("/buildings/{building_id}/units", response_model=list[UnitOut])
def list_units(building_id: Int64, ctx: RegistryRead):
    b = _building(ctx, building_id)
    return ctx.s.scalars(select(Unit).where(Unit.building_id == b.id).order_by(Unit.name)).all()


@router.delete("/units/{unit_id}", status_code=204)
def delete_unit(unit_id: Int64, ctx: RegistryWrite):
    u, b = _unit(ctx, unit_id)
    ctx.s.delete(u)
    record(ctx.s, ctx.actor, "delete", "unit", unit_id, b.site_id)
    ctx.s.commit()
    ctx.app.republisher.mark(b.site_id)
    return Response(status_code=204)


@router.patch("/units/{unit_id}", response_model=UnitOut)
def patch_unit(unit_id: Int64, body: RenameIn, ctx: RegistryWrite):
    u, b = _unit(ctx, unit_id)
    if body.name:
        u.name = body.name
    record(ctx.s, ctx.actor, "update", "unit", unit_id, b.site_id, {"fields": ["name"]})
    _commit_unique(ctx, f"unit {body.name}")
    ctx.app.republisher.mark(b.site_id)
    return u


@router.post("/units/{unit_id}/households", response_model=HouseholdOut, status_code=201)
def add_household(unit_id: Int64, body: NamedIn, ctx: RegistryWrite):
    u, b = _unit(ctx, unit_id)
    h = Household(unit_id=u.id, name=body.name)
    ctx.s.add(h)
    record(ctx.s, ctx.actor, "create", "household", f"{b.name}/{u.name}/{body.name}", b.site_id)
    _commit_unique(ctx, f"household {body.name}")
    return HouseholdOut(id=h.id, unit_id=h.unit_id, name=h.name)


@router.get("/units/{unit_id}/households", response_model=list[HouseholdOut])
def list_households(unit_id: Int64, ctx: RegistryRead):
    u, _ = _unit(ctx, unit_id)
    rows = ctx.s.execute(
        select(Household, func.count(Resident.id)).outerjoin(Resident, Resident.household_id == Household.id)
        .where(Household.unit_id == u.id).group_by(Household.id).order_by(Household.name)).all()
    return [HouseholdOut(id=h.id, unit_id=h.unit_id, name=h.name, residents=n) for h, n in rows]


@router.patch("/households/{household_id}", response_model=HouseholdOut)
def patch_household(household_id: Int64, body: RenameIn, ctx: RegistryWrite):
    h, b = _household(ctx, household_id)
    if body.name:
        h.name = body.name
    record(ctx.s, ctx.actor, "update", "household", household_id, b.site_id, {"fields": ["name"]})
    _commit_unique(ctx, f"household {body.name}")
    ctx.app.republisher.mark(b.site_id)
    return HouseholdOut(id=h.id, unit_id=h.unit_id, name=h.name)


@router.delete("/households/{household_id}", status_code=204)
def delete_household(household_id: Int64, ctx: RegistryWrite):
    h, b = _household(ctx, household_id)
    ctx.s.delete(h)
    record(ctx.s, ctx.actor, "delete", "household", household_id, b.site_id)
    ctx.s.commit()
    ctx.app.republisher.mark(b.site_id)
    return Response(status_code=204)


# -------------------------------------------------------------------------- grids and workers
class GridIn(BaseModel):
    id: str = ID
    name: str = NAME
    community_id: str | None = ref()


class GridOut(_Out):
    id: str
    name: str
    community_id: str | None


class WorkerIn(BaseModel):
    name: str = NAME
    phone: str | None = Field(default=None, max_length=64)
    user_id: Int64 | None = None


class WorkerOut(_Out):
    id: int
    grid_id: str
    name: str
    phone: str | None
    user_id: int | None


def _scoped_communities(ctx: Ctx) -> set[str] | None:
    """Communities of the caller's compounds (None = all): grids belong to communities."""
    if ctx.who.sites is None:
        return None
    return set(ctx.s.scalars(select(Site.community_id).where(Site.id.in_(ctx.who.sites),
                                                             Site.community_id.is_not(None))))


def _grid(ctx: Ctx, grid_id: str) -> Grid:
    g = ctx.s.get(Grid, grid_id)
    scope = _scoped_communities(ctx)
    if g is None or (scope is not None and g.community_id not in scope):
        raise NotFound(f"grid {grid_id} not found")
    return g


@router.post("/grids", response_model=GridOut, status_code=201)
def add_grid(body: GridIn, ctx: RegistryWrite):
    scope = _scoped_communities(ctx)
    if scope is not None and body.community_id not in scope:
        # an officer may only create grids in a community of its own compounds
        raise Forbidden("grids can only be created in a community of your compounds")
    if body.community_id and ctx.s.get(Community, body.community_id) is None:
        raise InvalidInput(f"community {body.community_id} does not exist")
    if ctx.s.get(Grid, body.id):
        raise Conflict(f"grid {body.id} exists")
    g = Grid(**body.model_dump())
    ctx.s.add(g)
    record(ctx.s, ctx.actor, "create", "grid", body.id)
    ctx.s.commit()
    return g


@router.get("/grids", response_model=list[GridOut])
def list_grids(ctx: RegistryRead):
    q = select(Grid).order_by(Grid.id)
    scope = _scoped_communities(ctx)
    if scope is not None:
        q = q.where(Grid.community_id.in_(scope))
    return ctx.s.scalars(q).all()


@router.delete("/grids/{grid_id}", status_code=204)
def delete_grid(grid_id: str, ctx: RegistryWrite):
    g = _grid(ctx, grid_id)
    ctx.s.delete(g)
    record(ctx.s, ctx.actor, "delete", "grid", grid_id)
    ctx.s.commit()
    return Response(status_code=204)


@router.post("/grids/{grid_id}/workers", response_model=WorkerOut, status_code=201)
def add_worker(grid_id: str, body: WorkerIn, ctx: RegistryWrite):
    _grid(ctx, grid_id)
    if body.user_id is not None and ctx.s.get(User, body.user_id) is None:
        raise InvalidInput(f"user {body.user_id} does not exist")
    w = GridWorker(grid_id=grid_id, **body.model_dump())
    ctx.s.add(w)
    ctx.s.flush()
    record(ctx.s, ctx.actor, "create", "grid_worker", w.id, None, {"grid_id": grid_id})
    ctx.s.commit()
    return w


@router.get("/grids/{grid_id}/workers", response_model=list[WorkerOut])
def list_workers(grid_id: str, ctx: RegistryRead):
    _grid(ctx, grid_id)
    rows = ctx.s.scalars(select(GridWorker).where(GridWorker.grid_id == grid_id).order_by(GridWorker.id)).all()
    # names and phones of workers are personal data
    record(ctx.s, ctx.actor, "read", "grid_worker", None, None, {"grid_id": grid_id, "count": len(rows)})
    ctx.s.commit()
    return rows


