"""Registry operations shared by the REST API and the CSV import.

Functions take an open Session and never commit: the caller decides the transaction (one API
request, or one CSV row with its photo), so a change and its audit row land together.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from menwei.errors import MenweiError
from server.db.models import Building, FacePhoto, FaceVariant, Household, Resident, ResidentStatus, Site, Unit
from server.db.types import utcnow
from server.registry.faces import EnrolResult

IMPORT_SOURCE_PREFIX = "import:"


class NotFound(MenweiError):
    code = "not_found"


class Conflict(MenweiError):
    code = "conflict"


class UnknownUnit(MenweiError):
    code = "unknown_unit"


class InvalidInput(MenweiError):
    code = "invalid_input"


@dataclass(frozen=True)
class Placement:
    """Where a resident lives, by the names an office uses."""

    building: str
    unit: str
    household: str


def get_site(session: Session, site_id: str) -> Site:
    site = session.get(Site, site_id)
    if site is None:
        raise NotFound(f"site {site_id} not found")
    return site


def resolve_household(session: Session, site_id: str, where: Placement, *, create_units: bool = False,
                      create_household: bool = True) -> Household:
    """The household for building/unit/household names in a compound.

    Buildings and units are the compound's fixed structure, so a name that is not in the registry
    is a typo until an office says otherwise (create_units). Households (flats) are created on
    first registration: a family moving into flat 1203 should not need a separate step.
    """
    building = session.scalar(select(Building).where(Building.site_id == site_id, Building.name == where.building))
    unit = None
    if building is not None:
        unit = session.scalar(select(Unit).where(Unit.building_id == building.id, Unit.name == where.unit))
    if unit is None:
        if not create_units:
            what = "building" if building is None else "unit"
            raise UnknownUnit(f"{what} {where.building}/{where.unit} is not in the registry of site {site_id}")
        if building is None:
            building = Building(site_id=site_id, name=where.building)
            session.add(building)
            session.flush()
        unit = Unit(building_id=building.id, name=where.unit)
        session.add(unit)
        session.flush()
    household = session.scalar(select(Household).where(Household.unit_id == unit.id,
                                                       Household.name == where.household))
    if household is None:
        if not create_household:
            raise UnknownUnit(f"household {where.building}/{where.unit}/{where.household} is not in the registry")
        household = Household(unit_id=unit.id, name=where.household)
        session.add(household)
        session.flush()
    return household


def household_site(session: Session, household_id: int) -> str | None:
    return session.scalar(
        select(Building.site_id).join(Unit, Unit.building_id == Building.id)
        .join(Household, Household.unit_id == Unit.id).where(Household.id == household_id))


def placement_of(session: Session, household_ids: set[int]) -> dict[int, dict]:
    """household id → {"building", "unit", "household"} names, in one query."""
    if not household_ids:
        return {}
    rows = session.execute(
        select(Household.id, Building.name, Unit.name, Household.name)
        .join(Unit, Household.unit_id == Unit.id).join(Building, Unit.building_id == Building.id)
        .where(Household.id.in_(household_ids))).all()
    return {hid: {"building": b, "unit": u, "household": h} for hid, b, u, h in rows}


def apply_status(resident: Resident, status: ResidentStatus | str, valid_from: datetime | None,
                 valid_until: datetime | None) -> None:
    """Set status and its period; quarantine dates live in their own columns."""
    status = ResidentStatus(status)
    if resident.status != status:
        resident.status_changed_at = utcnow()
    resident.status = status
    if status == ResidentStatus.QUARANTINE:
        resident.quarantine_from, resident.quarantine_until = valid_from, valid_until
    else:
        resident.valid_from, resident.valid_until = valid_from, valid_until


def store_photo(session: Session, resident_id: str, result: EnrolResult, pack: str, source_name: str,
                *, replace_source_prefix: str | None = None) -> FacePhoto:
    if not result.ok:
        raise ValueError("store_photo needs a successful enrolment")
    if replace_source_prefix is not None:
        session.execute(delete(FacePhoto).where(FacePhoto.resident_id == resident_id, FacePhoto.pack == pack,
                                                FacePhoto.source_name.startswith(replace_source_prefix)))
    vec = np.asarray(result.embedding, dtype="<f4").reshape(-1)
    photo = FacePhoto(resident_id=resident_id, pack=pack, dim=int(vec.shape[0]), embedding=vec.tobytes(),
                      crop_jpeg=result.crop_jpeg, source_name=source_name[:255], quality=result.quality)
    session.add(photo)
    session.flush()
    # its masked templates: same source name (a re-import replaces them with it), no crop of their own
    masked = () if result.masked_embeddings is None else np.asarray(result.masked_embeddings, dtype="<f4")
    for m in masked:
        session.add(FacePhoto(resident_id=resident_id, pack=pack, dim=int(m.shape[0]), embedding=m.tobytes(),
                              source_name=photo.source_name, variant=FaceVariant.MASKED, parent_id=photo.id))
    session.flush()
    return photo
