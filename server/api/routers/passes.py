"""Visitor passes: a community office issues one for a host resident (validity window, gates),
signed with the server's Ed25519 key; gates verify it offline (menwei/passes.py) and learn of
revocations through the compound's gallery, which is rebuilt on every revocation."""

from __future__ import annotations

import base64
import uuid
from datetime import datetime

import cv2
from fastapi import APIRouter
from pydantic import BaseModel, Field, model_validator
from sqlalchemy import select

from edge.vision.qr import qr_image
from menwei.passes import VisitorPass as PassClaims
from menwei.passes import public_key_of, sign_pass
from server.api.bounds import Int32
from server.api.deps import RegistryRead, RegistryWrite
from server.audit import record
from server.db.models import Gate, Resident
from server.db.models import VisitorPass as PassRow
from server.db.types import utcnow
from server.registry.service import Conflict, InvalidInput, NotFound

router = APIRouter(tags=["passes"])
MAX_DAYS = 366


class PassIn(BaseModel):
    host_resident_id: str = Field(min_length=1, max_length=64)
    gates: list[str] = Field(default_factory=list, max_length=32, description="empty: every gate of the compound")
    valid_from: datetime
    valid_until: datetime
    note: str | None = Field(default=None, max_length=200, description="for the office only; not in the code")

    @model_validator(mode="after")
    def _window(self) -> PassIn:
        if self.valid_from.tzinfo is None or self.valid_until.tzinfo is None:
            raise ValueError("valid_from and valid_until need a time zone (e.g. 2026-12-07T09:00:00+08:00)")
        if self.valid_until <= self.valid_from:
            raise ValueError("valid_until must be after valid_from")
        if (self.valid_until - self.valid_from).days > MAX_DAYS:
            raise ValueError(f"a pass lasts at most {MAX_DAYS} days")
        return self


class PassOut(BaseModel):
    pass_id: uuid.UUID
    site_id: str
    host_resident_id: str
    gates: list[str]
    valid_from: datetime
    valid_until: datetime
    note: str | None
    created_at: datetime
    created_by: str | None
    revoked_at: datetime | None
    revoked_by: str | None


class PassIssued(PassOut):
    token: str = Field(description="what the QR code holds; shown once (it is a key to the gate)")
    qr_png_base64: str = Field(description="the QR code as a PNG, for the visitor's phone or a printout")


class PublicKeyOut(BaseModel):
    algorithm: str = "Ed25519"
    public_key: str = Field(description="base64 of the 32 raw bytes; goes into each gate's file (passes.public_key)")


def _out(r: PassRow) -> PassOut:
    return PassOut(pass_id=r.id, site_id=r.site_id, host_resident_id=r.host_resident_id, gates=list(r.gates),
                   valid_from=r.valid_from, valid_until=r.valid_until, note=r.note, created_at=r.created_at,
                   created_by=r.created_by, revoked_at=r.revoked_at, revoked_by=r.revoked_by)


@router.get("/passes/public-key", response_model=PublicKeyOut)
def public_key(ctx: RegistryRead) -> PublicKeyOut:
    return PublicKeyOut(public_key=base64.b64encode(public_key_of(ctx.app.pass_key)).decode())


@router.post("/sites/{site_id}/passes", response_model=PassIssued, status_code=201)
def issue_pass(site_id: str, body: PassIn, ctx: RegistryWrite) -> PassIssued:
    ctx.require_site(site_id)
    host = ctx.s.get(Resident, body.host_resident_id)
    if host is None or host.site_id != site_id:
        raise InvalidInput(f"host_resident_id: no resident {body.host_resident_id} in {site_id}")
    if body.valid_until <= utcnow():
        raise InvalidInput("valid_until: already in the past")
    gates = sorted(set(body.gates))
    known = set(ctx.s.scalars(select(Gate.id).where(Gate.site_id == site_id, Gate.id.in_(gates)))) if gates else set()
    if set(gates) - known:
        raise InvalidInput(f"gates: not gates of {site_id}: {', '.join(sorted(set(gates) - known))}")
    row = PassRow(id=uuid.uuid4(), site_id=site_id, host_resident_id=host.id, gates=gates,
                  valid_from=body.valid_from, valid_until=body.valid_until, note=body.note,
                  created_by=ctx.who.username, created_at=utcnow())
    ctx.s.add(row)
    record(ctx.s, ctx.actor, "issue_pass", "visitor_pass", str(row.id), site_id,
           {"host_resident_id": host.id, "gates": gates, "valid_until": body.valid_until.isoformat()})
    ctx.s.commit()
    claims = PassClaims(p=row.id, s=site_id, g=tuple(gates), h=host.id, nb=int(body.valid_from.timestamp()),
                        na=int(body.valid_until.timestamp()))
    token = sign_pass(claims, ctx.app.pass_key)
    ok, png = cv2.imencode(".png", qr_image(token))
    return PassIssued(**_out(row).model_dump(), token=token, qr_png_base64=base64.b64encode(png.tobytes()).decode())


@router.get("/sites/{site_id}/passes", response_model=list[PassOut])
def list_passes(site_id: str, ctx: RegistryRead, active_only: bool = True, limit: Int32 = 100) -> list[PassOut]:
    ctx.require_site(site_id)
    q = select(PassRow).where(PassRow.site_id == site_id).order_by(PassRow.created_at.desc())
    if active_only:
        q = q.where(PassRow.revoked_at.is_(None), PassRow.valid_until > utcnow())
    rows = ctx.s.scalars(q.limit(max(1, min(limit, 500)))).all()
    # who visits whom is personal data of the host: a read to audit
    record(ctx.s, ctx.actor, "read", "visitor_pass", None, site_id, {"count": len(rows)})
    ctx.s.commit()
    return [_out(r) for r in rows]


@router.post("/passes/{pass_id}/revoke", response_model=PassOut)
def revoke_pass(pass_id: uuid.UUID, ctx: RegistryWrite) -> PassOut:
    row = ctx.s.get(PassRow, pass_id)
    if row is None or not ctx.who.sees(row.site_id):
        raise NotFound(f"pass {pass_id} not found")
    if row.revoked_at is not None:
        raise Conflict(f"pass {pass_id} was already revoked by {row.revoked_by} at {row.revoked_at.isoformat()}")
    row.revoked_at, row.revoked_by = utcnow(), ctx.who.username
    record(ctx.s, ctx.actor, "revoke_pass", "visitor_pass", str(row.id), row.site_id)
    ctx.s.commit()
    ctx.app.republisher.mark(row.site_id)  # the gates learn it with the next gallery
    return _out(row)
