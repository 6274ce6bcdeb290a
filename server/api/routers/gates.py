"""Gates: registration with MQTT credentials, health, reported gallery version, remote commands."""

from __future__ import annotations

import contextlib
import logging
import secrets
import uuid
from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from menwei.wire import Channel, Command, CommandKind, gate_root, gate_username
from server.api.bounds import Int64
from server.api.broker import BrokerUnavailable, publish_channel
from server.api.deps import Ctx, Forbidden, GatesCommand, GatesProvision, GatesRead, GatesWrite
from server.api.roles import Perm
from server.audit import record
from server.broker_auth import hash_password as mqtt_hash
from server.broker_auth import server_account_names
from server.db.models import Entry, GalleryVersion, Gate, GateCommand, GateDirection, Site
from server.db.types import utcnow
from server.registry.service import Conflict, InvalidInput, NotFound

log = logging.getLogger(__name__)
router = APIRouter(tags=["gates"])


class GateIn(BaseModel):
    id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$",
                    description="the gate level of its topics; its MQTT username is gate.<id>")
    site_id: str
    direction: GateDirection = GateDirection.BOTH
    name: str | None = Field(default=None, max_length=200)


class GatePatch(BaseModel):
    # left out: unchanged; an explicit null is refused where the column needs a value
    name: str | None = Field(default=None, max_length=200)
    direction: GateDirection = None
    active: bool = None


class MqttCredentials(BaseModel):
    username: str
    password: str = Field(description="shown once; only a hash is stored")
    topic_root: str


class GateOut(BaseModel):
    id: str
    site_id: str
    name: str | None
    direction: GateDirection
    active: bool
    state: str  # online / offline / unknown, from the gate's retained status (Last Will = offline)
    last_seen_at: datetime | None
    status_at: datetime | None
    agent_version: str | None
    pack: str | None
    gallery_version: int | None = Field(description="the version the gate reports running")
    published_gallery_version: int | None = Field(description="the newest version the server published")
    gallery_current: bool | None
    config_version: int | None
    config_error: str | None = Field(description="why the gate refused its last config (GET /gates/{id}/config)")
    telemetry: dict[str, Any] | None
    telemetry_at: datetime | None
    created_at: datetime


class GateCreated(GateOut):
    mqtt: MqttCredentials


class CommandIn(BaseModel):
    kind: CommandKind
    reason: str | None = Field(default=None, max_length=512)


class CommandOut(BaseModel):
    command_id: uuid.UUID
    gate_id: str
    kind: str
    operator: str
    reason: str | None
    issued_at: datetime
    expires_at: datetime | None = Field(description="the gate refuses it after this; null if sent before the "
                                                    "server stored expiries")


def _published(ctx: Ctx, site_ids: set[str]) -> dict[str, int]:
    if not site_ids:
        return {}
    rows = ctx.s.execute(select(GalleryVersion.site_id, func.max(GalleryVersion.version))
                         .where(GalleryVersion.site_id.in_(site_ids), GalleryVersion.pack == ctx.app.settings.pack)
                         .group_by(GalleryVersion.site_id)).all()
    return dict(rows)


def _out(g: Gate, published: dict[str, int]) -> GateOut:
    pub = published.get(g.site_id)
    return GateOut(
        id=g.id, site_id=g.site_id, name=g.name, direction=g.direction, active=g.active, state=g.state,
        last_seen_at=g.last_seen_at, status_at=g.status_at, agent_version=g.agent_version, pack=g.pack,
        gallery_version=g.gallery_version, published_gallery_version=pub,
        gallery_current=None if pub is None or g.gallery_version is None else g.gallery_version >= pub,
        config_version=g.config_version, config_error=g.config_error, telemetry=g.last_telemetry,
        telemetry_at=g.telemetry_at,
        created_at=g.created_at)


def gate_in_scope(ctx: Ctx, gate_id: str) -> Gate:
    g = ctx.s.get(Gate, gate_id)
    if g is None or not ctx.who.sees(g.site_id):
        raise NotFound(f"gate {gate_id} not found")
    return g


def _new_password() -> tuple[str, str]:
    password = secrets.token_urlsafe(24)
    return password, mqtt_hash(password)


@router.post("/gates", response_model=GateCreated, status_code=201)
def add_gate(body: GateIn, ctx: GatesProvision) -> GateCreated:
    ctx.require_site(body.site_id)
    if ctx.s.get(Site, body.site_id) is None:
        raise NotFound(f"site {body.site_id} not found")
    if body.id in server_account_names(ctx.app.publisher):
        raise Conflict(f"gate id {body.id} is the server's MQTT account name; choose another id")
    if ctx.s.get(Gate, body.id) is not None:
        raise Conflict(f"gate id {body.id} is already taken (gate ids are MQTT usernames: unique district-wide)")
    password, hashed = _new_password()
    g = Gate(id=body.id, site_id=body.site_id, direction=body.direction, name=body.name, active=True,
             mqtt_password_hash=hashed, state="unknown")
    ctx.s.add(g)
    record(ctx.s, ctx.actor, "create", "gate", g.id, g.site_id, {"direction": body.direction.value})
    try:
        ctx.s.commit()
    except IntegrityError:
        raise Conflict(f"gate id {body.id} is already taken") from None
    try:  # a new gate learns the compound's current gallery at once (retained)
        ctx.app.gallery.announce_gate(g.site_id, g.id)
    except BrokerUnavailable as exc:
        log.warning("gate %s: gallery not announced yet: %s", g.id, exc.message)
    out = _out(g, _published(ctx, {g.site_id}))
    creds = MqttCredentials(username=gate_username(g.id), password=password, topic_root=gate_root(g.site_id, g.id))
    return GateCreated(**out.model_dump(), mqtt=creds)


@router.get("/gates", response_model=list[GateOut])
def list_gates(ctx: GatesRead, site: str | None = None) -> list[GateOut]:
    q = select(Gate).order_by(Gate.site_id, Gate.id)
    if site is not None:
        q = q.where(Gate.site_id == ctx.require_site(site))
    elif ctx.who.sites is not None:
        q = q.where(Gate.site_id.in_(ctx.who.sites))
    gates = ctx.s.scalars(q).all()
    published = _published(ctx, {g.site_id for g in gates})
    return [_out(g, published) for g in gates]


@router.get("/gates/{gate_id}", response_model=GateOut)
def get_gate(gate_id: str, ctx: GatesRead) -> GateOut:
    g = gate_in_scope(ctx, gate_id)
    return _out(g, _published(ctx, {g.site_id}))


@router.patch("/gates/{gate_id}", response_model=GateOut)
def patch_gate(gate_id: str, body: GatePatch, ctx: GatesWrite) -> GateOut:
    g = gate_in_scope(ctx, gate_id)
    changes = body.model_dump(exclude_unset=True)
    for k, v in changes.items():
        setattr(g, k, v)
    record(ctx.s, ctx.actor, "update", "gate", g.id, g.site_id, {k: str(v) for k, v in changes.items()})
    ctx.s.commit()
    return _out(g, _published(ctx, {g.site_id}))


@router.post("/gates/{gate_id}/credentials", response_model=MqttCredentials)
def rotate_credentials(gate_id: str, ctx: GatesProvision) -> MqttCredentials:
    """A new MQTT password (the old one stops working once the broker's password file is rewritten)."""
    g = gate_in_scope(ctx, gate_id)
    password, g.mqtt_password_hash = _new_password()
    record(ctx.s, ctx.actor, "rotate_credentials", "gate", g.id, g.site_id)
    ctx.s.commit()
    if g.active:  # the old gallery link died with the old password: announce one signed for the new
        try:
            ctx.app.gallery.announce_gate(g.site_id, g.id)
        except BrokerUnavailable as exc:
            log.warning("gate %s: new gallery link not announced yet: %s", g.id, exc.message)
    return MqttCredentials(username=gate_username(g.id), password=password, topic_root=gate_root(g.site_id, g.id))


@router.delete("/gates/{gate_id}", status_code=204)
def delete_gate(gate_id: str, ctx: GatesWrite) -> Response:
    g = gate_in_scope(ctx, gate_id)
    if ctx.s.scalar(select(Entry.id).where(Entry.gate_id == g.id).limit(1)) is not None:
        raise Conflict(f"gate {gate_id} has logged entries; deactivate it (PATCH active=false) instead")
    site_id = g.site_id
    ctx.s.delete(g)
    record(ctx.s, ctx.actor, "delete", "gate", gate_id, site_id)
    ctx.s.commit()
    with contextlib.suppress(BrokerUnavailable):  # no broker: nothing retained to clear either
        ctx.app.gallery.clear_gate(site_id, gate_id)
        publish_channel(ctx.app.publisher, site_id, gate_id, Channel.CONFIG, b"")  # its retained config too
    return Response(status_code=204)


@router.post("/gates/{gate_id}/commands", response_model=CommandOut, status_code=202)
def send_command(gate_id: str, body: CommandIn, ctx: GatesCommand) -> CommandOut:
    """Sent on ctl/cmd (QoS 1, not retained: a command must not replay when a gate reconnects)."""
    g = gate_in_scope(ctx, gate_id)
    if body.kind != CommandKind.OPEN and not ctx.who.can(Perm.GATES_COMMAND):
        raise Forbidden(f"role {ctx.who.role.value} may only send 'open'")
    if body.kind == CommandKind.OPEN and not (body.reason or "").strip():
        raise InvalidInput("a remote open needs a reason (it is logged with your name)")
    if not g.active:
        raise Conflict(f"gate {gate_id} is deactivated")
    ttl_s = ctx.app.settings.command_ttl_s
    issued = utcnow()
    cmd = Command(command_id=uuid.uuid4(), kind=body.kind, operator=ctx.who.username, reason=body.reason,
                  issued_at=issued, expires_at=issued + timedelta(seconds=ttl_s))
    # recorded before sending: an open that reached the door but not the log would be the worse failure
    ctx.s.add(GateCommand(id=cmd.command_id, gate_id=g.id, kind=cmd.kind.value, operator=cmd.operator,
                          reason=cmd.reason, issued_at=cmd.issued_at, expires_at=cmd.expires_at,
                          user_id=ctx.who.user_id))
    record(ctx.s, ctx.actor, "command", "gate", g.id, g.site_id,
           {"kind": cmd.kind.value, "reason": cmd.reason, "command_id": str(cmd.command_id)})
    ctx.s.commit()
    publish_channel(ctx.app.publisher, g.site_id, g.id, Channel.CMD, cmd.model_dump_json().encode(),
                    expiry_s=ttl_s)
    return CommandOut(command_id=cmd.command_id, gate_id=g.id, kind=cmd.kind.value, operator=cmd.operator,
                      reason=cmd.reason, issued_at=cmd.issued_at, expires_at=cmd.expires_at)


@router.get("/gates/{gate_id}/commands", response_model=list[CommandOut])
def list_commands(gate_id: str, ctx: GatesRead, limit: Int64 = 50) -> list[CommandOut]:
    g = gate_in_scope(ctx, gate_id)
    rows = ctx.s.scalars(select(GateCommand).where(GateCommand.gate_id == g.id)
                         .order_by(GateCommand.issued_at.desc()).limit(max(1, min(limit, 500)))).all()
    # the history names operators and their reasons (often a resident's flat): a read to audit
    record(ctx.s, ctx.actor, "read", "gate_command", None, g.site_id, {"gate_id": g.id, "count": len(rows)})
    ctx.s.commit()
    return [CommandOut(command_id=c.id, gate_id=c.gate_id, kind=c.kind, operator=c.operator, reason=c.reason,
                       issued_at=c.issued_at, expires_at=c.expires_at) for c in rows]
