"""What the registry's routers share: id and name fields, the body models of buildings, units and
households, the scoped look-ups of a building, unit, household or grid, the checks that an id is
new or a reference exists, the delete of a placement row, and the commit that tells a duplicate
(409) from another broken constraint (422)."""

from __future__ import annotations

from fastapi import Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from server.api.bounds import ID_PATTERN, Int32, ref
from server.api.deps import Ctx
from server.api.errors import integrity_error
from server.audit import record
from server.db.models import Building, Grid, Household, Site, Unit
from server.registry.service import Conflict, InvalidInput, NotFound

ID = Field(min_length=1, max_length=64, pattern=ID_PATTERN)
NAME = Field(min_length=1, max_length=200)


class Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class NamedIn(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    grid_id: str | None = ref()  # buildings only


class RenameIn(BaseModel):
    name: str = Field(default=None, min_length=1, max_length=100)  # left out: unchanged; null: refused
    grid_id: str | None = ref()  # buildings only


def building(ctx: Ctx, building_id: Int32) -> Building:
    b = ctx.s.get(Building, building_id)
    if b is None or not ctx.who.sees(b.site_id):
        raise NotFound(f"building {building_id} not found")
    return b


def unit(ctx: Ctx, unit_id: Int32) -> tuple[Unit, Building]:
    u = ctx.s.get(Unit, unit_id)
    if u is None:
        raise NotFound(f"unit {unit_id} not found")
    b = ctx.s.get(Building, u.building_id)
    if not ctx.who.sees(b.site_id):
        raise NotFound(f"unit {unit_id} not found")
    return u, b


def household(ctx: Ctx, household_id: Int32) -> tuple[Household, Building]:
    h = ctx.s.get(Household, household_id)
    if h is None:
        raise NotFound(f"household {household_id} not found")
    _, b = unit(ctx, h.unit_id)
    return h, b


def scoped_communities(ctx: Ctx) -> set[str] | None:
    """Communities of the caller's compounds (None = all): grids belong to communities."""
    if ctx.who.sites is None:
        return None
    return set(ctx.s.scalars(select(Site.community_id).where(Site.id.in_(ctx.who.sites),
                                                             Site.community_id.is_not(None))))


def grid(ctx: Ctx, grid_id: str) -> Grid:
    g = ctx.s.get(Grid, grid_id)
    scope = scoped_communities(ctx)
    if g is None or (scope is not None and g.community_id not in scope):
        raise NotFound(f"grid {grid_id} not found")
    return g


def commit_unique(ctx: Ctx, what: str) -> None:
    """Commit; a duplicate is a 409 naming `what`, any other constraint a 422 (server.api.errors)."""
    try:
        ctx.s.commit()
    except IntegrityError as exc:
        ctx.s.rollback()
        raise integrity_error(exc, what) from None


def require_new(ctx: Ctx, model, row_id: str, kind: str) -> None:
    """409 when a row with this id exists already."""
    if ctx.s.get(model, row_id):
        raise Conflict(f"{kind} {row_id} exists")


def require_ref(ctx: Ctx, model, row_id, kind: str) -> None:
    """422 when an optional reference names a row that does not exist."""
    if row_id and ctx.s.get(model, row_id) is None:
        raise InvalidInput(f"{kind} {row_id} does not exist")


def delete_placement(ctx: Ctx, row, kind: str, row_id: int, site_id: str) -> Response:
    """Delete a building, unit or household; the compound's gallery is rebuilt (gates show placements)."""
    ctx.s.delete(row)
    record(ctx.s, ctx.actor, "delete", kind, row_id, site_id)
    ctx.s.commit()
    ctx.app.republisher.mark(site_id)
    return Response(status_code=204)
