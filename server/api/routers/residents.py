"""Residents (personal data: every read is audited) and their enrolment photos."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, File, Response, UploadFile
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, field_validator, model_validator
from sqlalchemy import func, or_, select

from edge.policy.schedule import parse_schedule
from server.api.bounds import Int32, Int64
from server.api.deps import Ctx, RegistryRead, RegistryWrite
from server.api.errors import ErrorBody
from server.audit import record
from server.db.models import FacePhoto, FaceVariant, Resident, ResidentStatus, Site
from server.registry.service import (
    Conflict,
    InvalidInput,
    NotFound,
    Placement,
    apply_status,
    household_site,
    placement_of,
    resolve_household,
    store_photo,
)

router = APIRouter(tags=["residents"])
TIME_STATUSES = {ResidentStatus.VISITOR, ResidentStatus.QUARANTINE}


class _Period(BaseModel):
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    # weekly access schedule the gates enforce, {"mon": [["08:00", "18:00"]], ...}; null = any time
    schedule: dict[str, list[list[str]]] | None = None

    @field_validator("schedule")
    @classmethod
    def _schedule(cls, v):
        parse_schedule(v)  # raises a message naming the day/interval
        return v

    @model_validator(mode="after")
    def _order(self):
        for v in (self.valid_from, self.valid_until):
            if v is not None and v.tzinfo is None:
                raise ValueError("datetimes need a UTC offset (e.g. 2026-05-01T00:00:00+08:00)")
        if self.valid_from and self.valid_until and self.valid_until < self.valid_from:
            raise ValueError("valid_until is before valid_from")
        # stored and answered in UTC, whatever offset the client wrote
        for k in ("valid_from", "valid_until"):
            v = getattr(self, k)
            if v is not None:
                try:
                    object.__setattr__(self, k, v.astimezone(UTC))
                except OverflowError:
                    raise ValueError(f"{k} is outside the years 0001-9999 in UTC") from None
        return self


class ResidentIn(_Period):
    id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")
    site_id: str
    name: str = Field(min_length=1, max_length=200)
    status: ResidentStatus = ResidentStatus.RESIDENT
    household_id: Int32 | None = None
    # or by names, as in the CSV import
    building: str | None = Field(default=None, max_length=64)
    unit: str | None = Field(default=None, max_length=64)
    household: str | None = Field(default=None, max_length=64)
    create_units: bool = Field(default=False, description="create building/unit when the names are new")
    phone: str | None = Field(default=None, max_length=32)
    notes: str | None = Field(default=None, max_length=2000)

    @model_validator(mode="after")
    def _needs(self):
        if self.status in TIME_STATUSES and self.valid_until is None:
            raise ValueError(f"status {self.status.value} needs valid_until")
        names = (self.building, self.unit, self.household)
        if any(names) and not all(names):
            raise ValueError("give building, unit and household together")
        return self


class ResidentPatch(_Period):
    # `name`/`status` default to None but are not nullable: left out = unchanged, null = refused
    name: str = Field(default=None, min_length=1, max_length=200)
    status: ResidentStatus = Field(default=None)
    household_id: Int32 | None = None
    phone: str | None = Field(default=None, max_length=32)
    notes: str | None = Field(default=None, max_length=2000)


class ResidentOut(BaseModel):
    id: str
    site_id: str
    name: str
    status: ResidentStatus
    household_id: int | None
    building: str | None = None
    unit: str | None = None
    household: str | None = None
    phone: str | None
    valid_from: datetime | None
    valid_until: datetime | None  # for quarantine: the quarantine period
    schedule: dict[str, list[list[str]]] | None = None
    notes: str | None
    photos: int
    status_changed_at: datetime
    created_at: datetime
    updated_at: datetime


class ResidentPage(BaseModel):
    items: list[ResidentOut]
    total: int


def _out(r: Resident, places: dict[int, dict], photos: int) -> ResidentOut:
    q = r.status == ResidentStatus.QUARANTINE
    return ResidentOut(
        id=r.id, site_id=r.site_id, name=r.name, status=r.status, household_id=r.household_id,
        **places.get(r.household_id, {}), phone=r.phone,
        valid_from=r.quarantine_from if q else r.valid_from, valid_until=r.quarantine_until if q else r.valid_until,
        schedule=r.schedule, notes=r.notes, photos=photos, status_changed_at=r.status_changed_at, created_at=r.created_at,
        updated_at=r.updated_at)


def _photo_counts(ctx: Ctx, ids: list[str]) -> dict[str, int]:
    if not ids:
        return {}
    rows = ctx.s.execute(select(FacePhoto.resident_id, func.count()).where(FacePhoto.resident_id.in_(ids),
                                                                       FacePhoto.variant == FaceVariant.PLAIN)
                         .group_by(FacePhoto.resident_id)).all()
    return dict(rows)


def _resident(ctx: Ctx, resident_id: str) -> Resident:
    r = ctx.s.get(Resident, resident_id)
    if r is None or not ctx.who.sees(r.site_id):
        raise NotFound(f"resident {resident_id} not found")
    return r


def _view(ctx: Ctx, r: Resident) -> ResidentOut:
    places = placement_of(ctx.s, {r.household_id} if r.household_id else set())
    return _out(r, places, _photo_counts(ctx, [r.id]).get(r.id, 0))


def _check_household(ctx: Ctx, site_id: str, household_id: int) -> None:
    if household_site(ctx.s, household_id) != site_id:
        raise InvalidInput(f"household {household_id} is not in site {site_id}")


@router.post("/residents", response_model=ResidentOut, status_code=201)
def add_resident(body: ResidentIn, ctx: RegistryWrite) -> ResidentOut:
    ctx.require_site(body.site_id)
    if ctx.s.get(Site, body.site_id) is None:
        raise NotFound(f"site {body.site_id} not found")
    if ctx.s.get(Resident, body.id) is not None:
        # resident ids are district-wide (gates report them); never reveal which compound holds it
        raise Conflict(f"resident id {body.id} is already taken")
    household_id = body.household_id
    if household_id is not None:
        _check_household(ctx, body.site_id, household_id)
    elif body.building:
        household_id = resolve_household(ctx.s, body.site_id, Placement(body.building, body.unit, body.household),
                                         create_units=body.create_units).id
    r = Resident(id=body.id, site_id=body.site_id, name=body.name, household_id=household_id, phone=body.phone,
                 notes=body.notes, schedule=body.schedule)
    apply_status(r, body.status, body.valid_from, body.valid_until)
    ctx.s.add(r)
    ctx.s.flush()
    record(ctx.s, ctx.actor, "create", "resident", r.id, r.site_id, {"status": body.status.value})
    ctx.s.commit()
    ctx.app.republisher.mark(r.site_id)
    return _view(ctx, r)


@router.get("/residents", response_model=ResidentPage)
def list_residents(ctx: RegistryRead, site: str | None = None, status: ResidentStatus | None = None,
                   household_id: Int32 | None = None, q: str | None = None, limit: Int64 = 100,
                   offset: Int64 = 0) -> ResidentPage:
    limit = max(1, min(limit, ctx.app.settings.page_limit_max))
    query = select(Resident)
    if site is not None:
        query = query.where(Resident.site_id == ctx.require_site(site))
    elif ctx.who.sites is not None:
        query = query.where(Resident.site_id.in_(ctx.who.sites))
    if status is not None:
        query = query.where(Resident.status == status)
    if household_id is not None:
        query = query.where(Resident.household_id == household_id)
    if q:
        like = f"%{q.replace('%', '').replace('_', '')}%"
        query = query.where(or_(Resident.name.like(like), Resident.id.like(like)))
    total = ctx.s.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = ctx.s.scalars(query.order_by(Resident.id).limit(limit).offset(max(0, offset))).all()
    places = placement_of(ctx.s, {r.household_id for r in rows if r.household_id})
    counts = _photo_counts(ctx, [r.id for r in rows])
    record(ctx.s, ctx.actor, "read", "resident", None, site,
           {"filters": {"status": status, "household_id": household_id, "q": bool(q)}, "count": len(rows),
            "ids": [r.id for r in rows][:100]})
    ctx.s.commit()
    return ResidentPage(items=[_out(r, places, counts.get(r.id, 0)) for r in rows], total=total)


@router.get("/residents/{resident_id}", response_model=ResidentOut)
def get_resident(resident_id: str, ctx: RegistryRead) -> ResidentOut:
    r = _resident(ctx, resident_id)
    out = _view(ctx, r)
    record(ctx.s, ctx.actor, "read", "resident", r.id, r.site_id)
    ctx.s.commit()
    return out


@router.patch("/residents/{resident_id}", response_model=ResidentOut)
def patch_resident(resident_id: str, body: ResidentPatch, ctx: RegistryWrite) -> ResidentOut:
    r = _resident(ctx, resident_id)
    changes = body.model_dump(exclude_unset=True)
    if "household_id" in changes and body.household_id is not None:
        _check_household(ctx, r.site_id, body.household_id)
    for k in ("name", "household_id", "phone", "notes", "schedule"):
        if k in changes:
            setattr(r, k, changes[k])
    if {"status", "valid_from", "valid_until"} & changes.keys():
        status = body.status or r.status
        q = r.status == ResidentStatus.QUARANTINE
        cur_from, cur_until = (r.quarantine_from, r.quarantine_until) if q else (r.valid_from, r.valid_until)
        vf = changes.get("valid_from", cur_from if status == r.status else None)
        vu = changes.get("valid_until", cur_until if status == r.status else None)
        if status in TIME_STATUSES and vu is None:
            raise InvalidInput(f"status {status.value} needs valid_until")
        apply_status(r, status, vf, vu)
    record(ctx.s, ctx.actor, "update", "resident", r.id, r.site_id,
           {"fields": sorted(changes), "status": body.status.value if body.status else None})
    ctx.s.commit()
    ctx.app.republisher.mark(r.site_id)
    return _view(ctx, r)


@router.delete("/residents/{resident_id}", status_code=204)
def delete_resident(resident_id: str, ctx: RegistryWrite) -> Response:
    r = _resident(ctx, resident_id)
    site_id = r.site_id
    ctx.s.delete(r)  # photos and embeddings go with it (cascade)
    record(ctx.s, ctx.actor, "delete", "resident", resident_id, site_id)
    ctx.s.commit()
    ctx.app.republisher.mark(site_id)
    return Response(status_code=204)


# ------------------------------------------------------------------------------------ photos
class PhotoResult(BaseModel):
    name: str
    enrolled: bool
    code: str | None = None  # FaceError code (no_face, multiple_faces, unreadable_image, face_blurred, …)
    message: str | None = None
    photo_id: int | None = None
    quality: dict | None = None


class PhotoUpload(BaseModel):
    resident_id: str
    enrolled: int
    results: list[PhotoResult]


class PhotoOut(BaseModel):
    id: int
    pack: str
    source_name: str | None
    quality: dict | None
    created_at: datetime


@router.post("/residents/{resident_id}/photos", response_model=PhotoUpload, status_code=201,
             responses={422: {"model": PhotoUpload | ErrorBody,
                              "description": "no photo could be enrolled (per-file results), or invalid input"}})
def upload_photos(resident_id: str, file: Annotated[list[UploadFile], File(description="one or more photos")],
                  ctx: RegistryWrite):
    r = _resident(ctx, resident_id)
    site_id = r.site_id
    ctx.s.rollback()  # do not hold a transaction open while the face engine works
    limit = ctx.app.settings.max_photo_bytes
    results: list[PhotoResult] = []
    for up in file:
        name = (up.filename or "photo")[-200:]
        data = up.file.read(limit + 1)
        if len(data) > limit:
            results.append(PhotoResult(name=name, enrolled=False, code="unreadable_image",
                                       message=f"{name}: larger than {limit} bytes"))
            continue
        res = ctx.app.engine.enrol_bytes(data, name)
        if not res.ok:
            results.append(PhotoResult(name=name, enrolled=False, code=res.code, message=res.message))
            continue
        # each photo commits with its audit row; a later failure does not undo an earlier success
        if ctx.s.get(Resident, resident_id) is None:
            raise NotFound(f"resident {resident_id} not found")
        photo = store_photo(ctx.s, resident_id, res, ctx.app.engine.pack, name)
        record(ctx.s, ctx.actor, "create", "face_photo", photo.id, site_id, {"resident_id": resident_id})
        ctx.s.commit()
        results.append(PhotoResult(name=name, enrolled=True, photo_id=photo.id, quality=res.quality))
    if not any(x.enrolled for x in results):
        ctx.s.commit()
        body = PhotoUpload(resident_id=resident_id, enrolled=0, results=results)
        return JSONResponse(body.model_dump(mode="json"), status_code=422)
    ctx.app.republisher.mark(site_id)
    return PhotoUpload(resident_id=resident_id, enrolled=sum(x.enrolled for x in results), results=results)


@router.get("/residents/{resident_id}/photos", response_model=list[PhotoOut])
def list_photos(resident_id: str, ctx: RegistryRead) -> list[PhotoOut]:
    r = _resident(ctx, resident_id)
    # the photos themselves; their masked templates are internal (they go with them)
    rows = ctx.s.scalars(select(FacePhoto).where(FacePhoto.resident_id == r.id, FacePhoto.variant == FaceVariant.PLAIN)
                         .order_by(FacePhoto.id)).all()
    out = [PhotoOut(id=p.id, pack=p.pack, source_name=p.source_name, quality=p.quality, created_at=p.created_at)
           for p in rows]
    record(ctx.s, ctx.actor, "read", "face_photo", None, r.site_id, {"resident_id": r.id, "count": len(out)})
    ctx.s.commit()
    return out


@router.get("/residents/{resident_id}/photos/{photo_id}", response_class=Response,
            responses={200: {"content": {"image/jpeg": {}}}})
def get_photo(resident_id: str, photo_id: Int32, ctx: RegistryRead) -> Response:
    r = _resident(ctx, resident_id)
    p = ctx.s.get(FacePhoto, photo_id)
    if p is None or p.resident_id != r.id or not p.crop_jpeg:
        raise NotFound(f"photo {photo_id} not found")
    data = p.crop_jpeg
    record(ctx.s, ctx.actor, "read", "face_photo", photo_id, r.site_id, {"resident_id": r.id})
    ctx.s.commit()
    return Response(data, media_type="image/jpeg", headers={"Cache-Control": "no-store"})


@router.delete("/residents/{resident_id}/photos/{photo_id}", status_code=204)
def delete_photo(resident_id: str, photo_id: Int32, ctx: RegistryWrite) -> Response:
    r = _resident(ctx, resident_id)
    p = ctx.s.get(FacePhoto, photo_id)
    if p is None or p.resident_id != r.id or p.variant != FaceVariant.PLAIN:
        raise NotFound(f"photo {photo_id} not found")
    ctx.s.delete(p)  # its masked templates go with it (parent_id ON DELETE CASCADE)
    record(ctx.s, ctx.actor, "delete", "face_photo", photo_id, r.site_id, {"resident_id": r.id})
    ctx.s.commit()
    ctx.app.republisher.mark(r.site_id)
    return Response(status_code=204)
