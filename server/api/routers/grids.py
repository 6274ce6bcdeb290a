"""Grids (a community's subdivision for door-to-door work) and the workers assigned to them."""

from __future__ import annotations

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field
from sqlalchemy import select

from server.api.bounds import Int32, ref
from server.api.deps import Forbidden, RegistryRead, RegistryWrite
from server.api.routers._registry import ID, NAME, Out, grid, require_new, require_ref, scoped_communities
from server.audit import record
from server.db.models import Community, Grid, GridWorker, User

router = APIRouter(tags=["registry"])


class GridIn(BaseModel):
    id: str = ID
    name: str = NAME
    community_id: str | None = ref()


class GridOut(Out):
    id: str
    name: str
    community_id: str | None


class WorkerIn(BaseModel):
    name: str = NAME
    phone: str | None = Field(default=None, max_length=64)
    user_id: Int32 | None = None


class WorkerOut(Out):
    id: int
    grid_id: str
    name: str
    phone: str | None
    user_id: int | None


@router.post("/grids", response_model=GridOut, status_code=201)
def add_grid(body: GridIn, ctx: RegistryWrite):
    scope = scoped_communities(ctx)
    if scope is not None and body.community_id not in scope:
        # an officer may only create grids in a community of its own compounds
        raise Forbidden("grids can only be created in a community of your compounds")
    require_ref(ctx, Community, body.community_id, "community")
    require_new(ctx, Grid, body.id, "grid")
    g = Grid(**body.model_dump())
    ctx.s.add(g)
    record(ctx.s, ctx.actor, "create", "grid", body.id)
    ctx.s.commit()
    return g


@router.get("/grids", response_model=list[GridOut])
def list_grids(ctx: RegistryRead):
    q = select(Grid).order_by(Grid.id)
    scope = scoped_communities(ctx)
    if scope is not None:
        q = q.where(Grid.community_id.in_(scope))
    return ctx.s.scalars(q).all()


@router.delete("/grids/{grid_id}", status_code=204)
def delete_grid(grid_id: str, ctx: RegistryWrite):
    g = grid(ctx, grid_id)
    ctx.s.delete(g)
    record(ctx.s, ctx.actor, "delete", "grid", grid_id)
    ctx.s.commit()
    return Response(status_code=204)


@router.post("/grids/{grid_id}/workers", response_model=WorkerOut, status_code=201)
def add_worker(grid_id: str, body: WorkerIn, ctx: RegistryWrite):
    grid(ctx, grid_id)
    require_ref(ctx, User, body.user_id, "user")
    w = GridWorker(grid_id=grid_id, **body.model_dump())
    ctx.s.add(w)
    ctx.s.flush()
    record(ctx.s, ctx.actor, "create", "grid_worker", w.id, None, {"grid_id": grid_id})
    ctx.s.commit()
    return w


@router.get("/grids/{grid_id}/workers", response_model=list[WorkerOut])
def list_workers(grid_id: str, ctx: RegistryRead):
    grid(ctx, grid_id)
    rows = ctx.s.scalars(select(GridWorker).where(GridWorker.grid_id == grid_id).order_by(GridWorker.id)).all()
    # names and phones of workers are personal data
    record(ctx.s, ctx.actor, "read", "grid_worker", None, None, {"grid_id": grid_id, "count": len(rows)})
    ctx.s.commit()
    return rows
