"""Import residents from an office's CSV plus their photos, enrolling each face.

Per row, one of: enrolled, no_photo (registry row kept, nothing to enrol), no_face,
multiple_faces, bad_image, poor_quality, unknown_unit, invalid_row. A row and its photo's
embedding are committed together or not at all; a row that fails leaves the registry as it was
(an existing resident keeps its old data and photos), so fixing the file and importing it again
is always safe. Enrolment (the slow part) runs before the row's transaction opens, so a long
import never holds a write lock on SQLite for more than one row.
"""

from __future__ import annotations

import zipfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from sqlalchemy.orm import Session, sessionmaker

from edge.face import errors as face_errors
from server.audit import Actor, record
from server.db.models import Resident
from server.registry.csv_rows import ParsedRow, ResidentRow, parse_csv
from server.registry.faces import EngineHolder, EnrolResult
from server.registry.service import (
    IMPORT_SOURCE_PREFIX,
    InvalidInput,
    Placement,
    UnknownUnit,
    apply_status,
    get_site,
    resolve_household,
    store_photo,
)

PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png")
RESULTS = ("enrolled", "no_photo", "no_face", "multiple_faces", "bad_image", "poor_quality",
           "unknown_unit", "invalid_row")


@dataclass(frozen=True)
class RowResult:
    line: int
    resident_id: str
    result: str  # one of RESULTS
    detail: str | None = None
    face_code: str | None = None  # the engine's FaceError code when enrolment failed
    photo: str | None = None
    action: str | None = None  # kept rows: "created" (a new resident) or "updated" (an existing one)

    @property
    def kept(self) -> bool:
        return self.result in ("enrolled", "no_photo")


@dataclass
class ImportReport:
    site_id: str
    rows: list[RowResult] = field(default_factory=list)

    @property
    def counts(self) -> dict[str, int]:
        c = Counter(r.result for r in self.rows)
        return {k: c.get(k, 0) for k in RESULTS}

    @property
    def kept(self) -> int:
        return sum(r.kept for r in self.rows)

    def as_dict(self) -> dict:
        return {"site_id": self.site_id, "total": len(self.rows), "kept": self.kept, "counts": self.counts,
                "rows": [r.__dict__ for r in self.rows]}


class PhotoSource:
    """Photos named by resident id (``<id>.jpg/.jpeg/.png``, any case)."""

    def find(self, resident_id: str) -> tuple[str, bytes] | None:  # pragma: no cover - interface
        raise NotImplementedError


class DirPhotos(PhotoSource):
    def __init__(self, directory: Path, max_bytes: int):
        if not directory.is_dir():
            raise InvalidInput(f"photos folder {directory} does not exist")
        self.max_bytes = max_bytes
        self._index = {p.name.lower(): p for p in directory.iterdir() if p.is_file()}

    def find(self, resident_id: str) -> tuple[str, bytes] | None:
        for suffix in PHOTO_SUFFIXES:
            p = self._index.get((resident_id + suffix).lower())
            if p is not None:
                if p.stat().st_size > self.max_bytes:
                    return p.name, b""  # decoded as "empty" → bad_image, without reading it all
                return p.name, p.read_bytes()
        return None


ZIP_CHUNK = 64 * 1024


class ZipPhotos(PhotoSource):
    """Photos inside a zip (folders inside it are ignored: only the file names count).

    A zip's headers are the sender's word, so each entry is inflated in chunks and abandoned (an
    empty photo → bad_image) as soon as it passes `max_bytes` or inflates more than `max_ratio`
    times its compressed size — whatever sizes the headers declare. The number of entries and the
    declared total are checked up front (InvalidInput), before any entry is read.
    """

    def __init__(self, zf: zipfile.ZipFile, max_bytes: int, *, max_entries: int = 20_000,
                 max_ratio: float = 50.0, max_total: int | None = None):
        infos = zf.infolist()
        if len(infos) > max_entries:
            raise InvalidInput(f"the photos zip has {len(infos)} entries, more than the limit of {max_entries}")
        total = sum(i.file_size for i in infos)
        if max_total is not None and total > max_total:
            raise InvalidInput(f"the photos zip unpacks to {total} bytes, more than the limit of {max_total}")
        self.zf = zf
        self.max_bytes = max_bytes
        self.max_ratio = max_ratio
        self._index: dict[str, zipfile.ZipInfo] = {}
        for info in infos:
            if not info.is_dir():
                self._index.setdefault(PurePosixPath(info.filename).name.lower(), info)

    def find(self, resident_id: str) -> tuple[str, bytes] | None:
        for suffix in PHOTO_SUFFIXES:
            info = self._index.get((resident_id + suffix).lower())
            if info is not None:
                name = PurePosixPath(info.filename).name
                if info.file_size > self.max_bytes:  # declared too large: not even opened
                    return name, b""
                try:
                    return name, self._read_capped(info)
                except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError):
                    return name, b""  # corrupt, encrypted or an unsupported method: bad_image
        return None

    def _read_capped(self, info: zipfile.ZipInfo) -> bytes:
        cap = min(self.max_bytes, int(self.max_ratio * max(info.compress_size, 1)) + ZIP_CHUNK)
        out = bytearray()
        with self.zf.open(info) as fh:  # reading to the end checks the CRC
            while chunk := fh.read(ZIP_CHUNK):
                out += chunk
                if len(out) > cap:
                    return b""  # past the size or ratio limit: stop inflating now
        return bytes(out)


def _face_result(code: str | None) -> str:
    if code == face_errors.NO_FACE:
        return "no_face"
    if code == face_errors.MULTIPLE_FACES:
        return "multiple_faces"
    if code == face_errors.UNREADABLE_IMAGE:
        return "bad_image"
    return "poor_quality"


def import_residents(
    sessions: sessionmaker[Session],
    site_id: str,
    csv_bytes: bytes,
    photos: PhotoSource | None,
    engine: EngineHolder,
    actor: Actor,
    *,
    create_units: bool = False,
    progress: Callable[[int, int, RowResult], None] | None = None,
) -> ImportReport:
    """Import every row; returns the per-row report. File-level problems raise CsvError."""
    rows = parse_csv(csv_bytes)
    with sessions() as s:
        get_site(s, site_id)  # NotFound before any work
    report = ImportReport(site_id)
    for i, parsed in enumerate(rows):
        result = _import_row(sessions, site_id, parsed, photos, engine, actor, create_units)
        report.rows.append(result)
        if progress:
            progress(i + 1, len(rows), result)
    with sessions() as s, s.begin():
        record(s, actor, "import", "site", site_id, site_id,
               {"rows": len(rows), "kept": report.kept, "create_units": create_units, **report.counts})
    return report


def _import_row(sessions, site_id: str, parsed: ParsedRow, photos: PhotoSource | None, engine: EngineHolder,
                actor: Actor, create_units: bool) -> RowResult:
    if parsed.row is None:
        return RowResult(parsed.line, parsed.raw_id, "invalid_row", parsed.error)
    row = parsed.row
    where = Placement(row.building, row.unit, row.household)
    # cheap checks first, so a file full of typos fails fast instead of after enrolling every face
    with sessions() as s:
        existing = s.get(Resident, row.resident_id)
        if existing is not None and existing.site_id != site_id:
            return RowResult(parsed.line, row.resident_id, "invalid_row",
                             "resident_id is registered in another compound")
        if not create_units:
            try:
                resolve_household(s, site_id, where, create_units=False, create_household=True)
            except UnknownUnit as exc:
                return RowResult(parsed.line, row.resident_id, "unknown_unit", exc.message)
            finally:
                s.rollback()  # the probe may have created a household; the row transaction redoes it
    found = photos.find(row.resident_id) if photos else None
    enrolment: EnrolResult | None = None
    if found is not None:
        enrolment = engine.enrol_bytes(found[1], found[0])
        if not enrolment.ok:
            return RowResult(parsed.line, row.resident_id, _face_result(enrolment.code), enrolment.message,
                             enrolment.code, found[0])
    try:
        with sessions() as s, s.begin():
            created = _write_row(s, site_id, row, where, create_units, enrolment, found[0] if found else None,
                                 engine.pack)
            record(s, actor, "create" if created else "update", "resident", row.resident_id, site_id, {"via": "import", "line": parsed.line, "enrolled": enrolment is not None})
    except UnknownUnit as exc:
        return RowResult(parsed.line, row.resident_id, "unknown_unit", exc.message)
    action = "created" if created else "updated"
    if enrolment is None:
        return RowResult(parsed.line, row.resident_id, "no_photo", "resident saved without a face photo", action=action)
    return RowResult(parsed.line, row.resident_id, "enrolled", None, None, found[0], action)


def _write_row(s: Session, site_id: str, row: ResidentRow, where: Placement, create_units: bool,
               enrolment: EnrolResult | None, photo_name: str | None, pack: str) -> bool:
    """Write one row (and its embedding); True when the resident is new."""
    household = resolve_household(s, site_id, where, create_units=create_units)
    resident = s.get(Resident, row.resident_id)
    created = resident is None
    if resident is None:
        resident = Resident(id=row.resident_id, site_id=site_id, name=row.name)
        s.add(resident)
    resident.name = row.name
    resident.household_id = household.id
    resident.phone = row.phone
    apply_status(resident, row.status, row.valid_from, row.valid_until)
    s.flush()
    if enrolment is not None:
        # a re-import replaces the photo that came from an earlier import, not ones added by hand
        store_photo(s, resident.id, enrolment, pack, IMPORT_SOURCE_PREFIX + photo_name,
                    replace_source_prefix=IMPORT_SOURCE_PREFIX)
    return created
