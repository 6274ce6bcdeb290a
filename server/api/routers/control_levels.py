"""A compound's control level: set by an officer (or an admin for the district), audited, and
pushed to every gate of the compound as a new version of its retained config within seconds."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel, Field
from sqlalchemy import select

from server.api.deps import ControlSet, SitesRead
from server.api.routers.gate_config import publish_config
from server.audit import record
from server.control import LevelRules
from server.db.models import ControlLevel, Gate, Site
from server.db.types import utcnow
from server.registry.service import NotFound

router = APIRouter(tags=["registry"])


class LevelIn(BaseModel):
    level: ControlLevel
    reason: str = Field(min_length=1, max_length=500, description="why (kept in the audit log)")


class GatePush(BaseModel):
    gate_id: str
    config_version: int
    published: bool  # false: the broker was away; stored, sent with the next change or config PUT


class LevelOut(BaseModel):
    site_id: str
    level: ControlLevel
    set_at: datetime | None
    set_by: str | None
    rules: LevelRules
    gates: list[GatePush] = []


def _site(ctx, site_id: str) -> Site:
    ctx.require_site(site_id)
    site = ctx.s.get(Site, site_id)
    if site is None:
        raise NotFound(f"site {site_id} not found")
    return site


@router.get("/sites/{site_id}/control-level", response_model=LevelOut)
def get_level(site_id: str, ctx: SitesRead) -> LevelOut:
    site = _site(ctx, site_id)
    return LevelOut(site_id=site.id, level=site.control_level, set_at=site.control_level_at,
                    set_by=site.control_level_by, rules=ctx.app.settings.control_levels.rules(site.control_level))


@router.put("/sites/{site_id}/control-level", response_model=LevelOut)
def set_level(site_id: str, body: LevelIn, ctx: ControlSet) -> LevelOut:
    site = _site(ctx, site_id)
    before = site.control_level
    site.control_level, site.control_level_at, site.control_level_by = body.level, utcnow(), ctx.who.username
    gates = list(ctx.s.scalars(select(Gate).where(Gate.site_id == site.id, Gate.active.is_(True)).order_by(Gate.id)))
    for g in gates:  # a new version for each: the gate takes a config only when its version grows
        g.desired_config_version = max(g.desired_config_version or 0, g.config_version or 0) + 1
    record(ctx.s, ctx.actor, "set_control_level", "site", site.id, site.id,
           {"from": str(before), "to": str(body.level), "reason": body.reason,
            "gates": {g.id: g.desired_config_version for g in gates}})
    ctx.s.commit()
    pushed = [GatePush(gate_id=g.id, config_version=g.desired_config_version, published=publish_config(ctx, g))
              for g in gates]
    return LevelOut(site_id=site.id, level=site.control_level, set_at=site.control_level_at,
                    set_by=site.control_level_by, rules=ctx.app.settings.control_levels.rules(site.control_level),
                    gates=pushed)
