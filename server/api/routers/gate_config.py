"""A gate's remote config: what an officer wants it to run (stored, versioned, published retained
on ctl/config) beside what the gate reports running.

The body is validated by the model the gate itself validates with (edge/agent/remote_config.py),
so a config the server accepts is one the gate accepts. Versions only grow: a new one is above
both the last one stored and the last one the gate reported, so a gate never mistakes a new
config for an old one after the server's database was restored from a backup.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from edge.agent.remote_config import RemoteGateConfig
from menwei.wire import Channel, GateConfigMessage
from server.api.broker import BrokerUnavailable, publish_channel
from server.api.deps import Ctx, GatesRead, GatesWrite
from server.api.routers.gates import gate_in_scope
from server.audit import record
from server.control import effective_config, effective_model
from server.db.models import Gate, Site
from server.db.types import utcnow

log = logging.getLogger(__name__)
router = APIRouter(tags=["gates"])


class GateConfigOut(BaseModel):
    gate_id: str
    desired: dict[str, Any] | None = Field(description="the fields an officer set (null: none ever set); "
                                                       "every other field is the gate's default")
    effective: RemoteGateConfig = Field(description="the desired config with the defaults filled in")
    desired_version: int = Field(description="0 until a config is set")
    set_at: datetime | None
    set_by: str | None
    reported_version: int | None = Field(description="the version the gate last reported running")
    error: str | None = Field(description="why the gate refused a config, as it reported")
    in_sync: bool | None = Field(description="the gate runs the desired version; null when none was set")
    published: bool | None = Field(default=None, description="PUT only: false when the broker was away "
                                                             "(stored; PUT again to publish)")


def _level(ctx: Ctx, g: Gate) -> str:
    site = ctx.s.get(Site, g.site_id)
    return str(site.control_level) if site is not None else "normal"


def _out(ctx: Ctx, g: Gate, published: bool | None = None) -> GateConfigOut:
    desired_set = g.desired_config is not None
    return GateConfigOut(
        gate_id=g.id, desired=g.desired_config,
        effective=effective_model(g.desired_config, _level(ctx, g), ctx.app.settings.control_levels),
        desired_version=g.desired_config_version or 0, set_at=g.desired_config_at, set_by=g.desired_config_by,
        reported_version=g.config_version, error=g.config_error,
        # a level change publishes a version even to a gate no officer configured
        in_sync=(g.config_version == g.desired_config_version) if desired_set or g.desired_config_version else None,
        published=published)


@router.get("/gates/{gate_id}/config", response_model=GateConfigOut)
def get_config(gate_id: str, ctx: GatesRead) -> GateConfigOut:
    return _out(ctx, gate_in_scope(ctx, gate_id))


@router.put("/gates/{gate_id}/config", response_model=GateConfigOut)
def put_config(gate_id: str, body: RemoteGateConfig, ctx: GatesWrite) -> GateConfigOut:
    """Replace the gate's desired config (fields left out take the gate's defaults)."""
    g = gate_in_scope(ctx, gate_id)
    desired = body.model_dump(mode="json", exclude_unset=True)
    version = max(g.desired_config_version or 0, g.config_version or 0) + 1
    g.desired_config, g.desired_config_version = desired, version
    g.desired_config_at, g.desired_config_by = utcnow(), ctx.who.username
    record(ctx.s, ctx.actor, "update_config", "gate", g.id, g.site_id, {"version": version, "config": desired})
    ctx.s.commit()
    return _out(ctx, g, published=publish_config(ctx, g))


def publish_config(ctx: Ctx, g: Gate) -> bool:
    """Retained on ctl/config, so the gate gets it whenever it (re)connects: the officer's fields
    under the compound's control level (server/control.py)."""
    config = effective_config(g.desired_config, _level(ctx, g), ctx.app.settings.control_levels)
    msg = GateConfigMessage(version=g.desired_config_version, config=config)
    try:
        publish_channel(ctx.app.publisher, g.site_id, g.id, Channel.CONFIG, msg.model_dump_json().encode())
    except BrokerUnavailable as exc:
        log.warning("gate %s: config v%d stored, not published: %s", g.id, msg.version, exc.message)
        return False
    return True
