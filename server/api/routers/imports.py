"""Residents import over HTTP: the same per-row import as `menwei server import-residents`."""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, File, Form, UploadFile
from pydantic import BaseModel

from menwei.errors import MenweiError
from server.api.deps import Forbidden, RegistryWrite
from server.api.roles import Role
from server.registry.import_csv import DirPhotos, ZipPhotos, import_residents
from server.registry.service import InvalidInput, get_site

router = APIRouter(tags=["registry"])


class RowOut(BaseModel):
    line: int
    resident_id: str
    result: str
    detail: str | None
    face_code: str | None
    photo: str | None
    action: str | None = None  # kept rows: created or updated


class ImportOut(BaseModel):
    site_id: str
    total: int
    kept: int
    counts: dict[str, int]
    rows: list[RowOut]


class TooLarge(MenweiError):
    code = "too_large"


def _read_limited(up: UploadFile, limit: int, what: str) -> bytes:
    # the spooled part's size is known before anything is read into memory
    if up.size is not None and up.size > limit:
        raise TooLarge(f"{what} is {up.size} bytes, larger than the limit of {limit}")
    data = up.file.read(limit + 1)
    if len(data) > limit:
        raise TooLarge(f"{what} is larger than the limit of {limit} bytes")
    return data


@router.post("/sites/{site_id}/imports", response_model=ImportOut)
def import_csv(site_id: str, ctx: RegistryWrite,
               csv: Annotated[UploadFile, File(description="residents CSV (see docs/API.md for columns)")],
               photos: Annotated[UploadFile | None, File(description="zip of <resident_id>.jpg/.png")] = None,
               photos_dir: Annotated[str | None, Form(description="admins: a folder on the server instead")] = None,
               create_units: Annotated[bool, Form()] = False) -> dict:
    """Synchronous: answers when every row is done, with one result per row."""
    ctx.require_site(site_id)
    get_site(ctx.s, site_id)
    ctx.s.rollback()
    settings = ctx.app.settings
    data = _read_limited(csv, settings.max_csv_bytes, "the CSV")
    source = None
    zf = None
    if photos_dir is not None:
        if ctx.who.role != Role.ADMIN:
            # a server path would let anyone read files the server can read
            raise Forbidden("only admins may import photos from a server folder; upload a zip instead")
        source = DirPhotos(Path(photos_dir), settings.max_photo_bytes)
    elif photos is not None and photos.filename:
        try:
            zf = zipfile.ZipFile(photos.file)
        except zipfile.BadZipFile:
            raise InvalidInput("photos must be a zip file") from None
        source = ZipPhotos(zf, settings.max_photo_bytes, max_entries=settings.max_zip_entries,
                           max_ratio=settings.max_zip_ratio, max_total=settings.max_import_bytes)
    try:
        report = import_residents(ctx.app.sessions, site_id, data, source, ctx.app.engine, ctx.actor,
                                  create_units=create_units)
    finally:
        if zf is not None:
            zf.close()
    if report.kept:
        ctx.app.republisher.mark(site_id)
    return report.as_dict()
