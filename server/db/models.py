"""Every table of the server, in one module so the Alembic metadata is complete.

Registry: subdistrict → community → site (compound) → building → unit → household → resident,
plus grids and their workers. Devices: gates, their health history, per-gate ack state.
Events: entries, alerts, quarantined payloads. People using the system: users and the sites each
may see. Publishing: gallery versions. Accountability: the audit log.

Identifiers that travel on the wire (site, gate, resident) are strings chosen by the operator;
everything internal uses integer surrogate keys.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    Uuid,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from server.db.types import BigIntPK, UtcDateTime, utcnow

# Stable constraint names so migrations can alter them on both dialects.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

ID_LEN = 64  # same limit as the wire contract's ids


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def _enum(cls: type[StrEnum], name: str) -> Enum:
    # VARCHAR + CHECK rather than a native PG enum: identical on both dialects and adding a value
    # later is a plain constraint change instead of ALTER TYPE.
    return Enum(cls, name=name, native_enum=False, create_constraint=True, length=32,
                values_callable=lambda e: [m.value for m in e], validate_strings=True)


# ---------------------------------------------------------------------------------- enumerations
class FaceVariant(StrEnum):
    """What a face_photos row's embedding is: the photo's face, or that face painted with a mask
    at enrolment (edge/face/masked.py), which masked probes are matched against."""

    PLAIN = "plain"
    MASKED = "masked"


class ResidentStatus(StrEnum):
    RESIDENT = "resident"
    TENANT = "tenant"
    VISITOR = "visitor"
    MOVED_OUT = "moved_out"
    BANNED = "banned"
    QUARANTINE = "quarantine"


# Statuses of people who live in the compound; everyone else is a "non-resident" for retention.
RESIDENT_STATUSES = frozenset({ResidentStatus.RESIDENT, ResidentStatus.TENANT, ResidentStatus.QUARANTINE})


class GateDirection(StrEnum):
    IN = "in"
    OUT = "out"
    BOTH = "both"


class Role(StrEnum):
    GUARD = "guard"
    PROPERTY_MANAGER = "property_manager"
    COMMUNITY_OFFICER = "community_officer"
    ADMIN = "admin"


class AlertKind(StrEnum):
    UNKNOWN_PERSON = "unknown_person"
    FEVER = "fever"
    STATUS_FORBIDS = "status_forbids"
    DOUBLE_ENTRY = "double_entry"
    GATE_OFFLINE = "gate_offline"
    OUTBOX_FULL = "outbox_full"  # the gate's outbox is >= 90 % full: soon it must keep the door shut
    DOOR_ALARM = "door_alarm"  # fire alarm, door forced or held open (menwei.wire.DOOR_ALARM_REASONS)
    LOCAL_OPEN = "local_open"  # a guard opened the door from the gate's own page: for the office to review
    PASS_REFUSED = "pass_refused"  # the gate refused a visitor pass (detail: its code)
    PASS_UNKNOWN = "pass_unknown"  # the gate accepted a pass the server does not know as valid there


class ControlLevel(StrEnum):
    """A compound's control level during an outbreak (the rules of each: server config
    `control_levels`, server/control.py)."""

    NORMAL = "normal"
    HEIGHTENED = "heightened"  # temperature mandatory, visitors need a pass
    LOCKDOWN = "lockdown"  # residents only, no visitor passes, quarantined residents may not leave


class ReviewKind(StrEnum):
    """What an officer says the gate got wrong about an entry (the review figures count these)."""

    WRONG_PERSON = "wrong_person"  # the gate named a resident, but it was another resident
    STRANGER = "stranger"  # the gate named a resident, but it was nobody in the registry
    MISSED_RESIDENT = "missed_resident"  # the gate named nobody, but it was a registered resident


class MatchedBy(StrEnum):
    GATE = "gate"
    DISTRICT_REMATCH = "district_rematch"


# ------------------------------------------------------------------------------------- registry
class Subdistrict(Base):
    __tablename__ = "subdistricts"
    id: Mapped[str] = mapped_column(String(ID_LEN), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class Community(Base):
    __tablename__ = "communities"
    id: Mapped[str] = mapped_column(String(ID_LEN), primary_key=True)
    subdistrict_id: Mapped[str | None] = mapped_column(ForeignKey("subdistricts.id"), index=True)
    subdistrict: Mapped[Subdistrict | None] = relationship(foreign_keys=[subdistrict_id])
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class Grid(Base):
    """A grid-management cell of a community (网格): the unit of door-to-door work."""

    __tablename__ = "grids"
    id: Mapped[str] = mapped_column(String(ID_LEN), primary_key=True)
    community_id: Mapped[str | None] = mapped_column(ForeignKey("communities.id"), index=True)
    community: Mapped[Community | None] = relationship(foreign_keys=[community_id])
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class GridWorker(Base):
    __tablename__ = "grid_workers"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    grid_id: Mapped[str] = mapped_column(ForeignKey("grids.id", ondelete="CASCADE"), index=True)
    grid: Mapped[Grid] = relationship(foreign_keys=[grid_id])
    name: Mapped[str] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(64))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    user: Mapped[User | None] = relationship(foreign_keys=[user_id])
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class Site(Base):
    """A residential compound (小区): the scope of gates, galleries and user permissions."""

    __tablename__ = "sites"
    id: Mapped[str] = mapped_column(String(ID_LEN), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    community_id: Mapped[str | None] = mapped_column(ForeignKey("communities.id"), index=True)
    community: Mapped[Community | None] = relationship(foreign_keys=[community_id])
    address: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    control_level: Mapped[ControlLevel] = mapped_column(_enum(ControlLevel, "control_level"),
                                                        default=ControlLevel.NORMAL, server_default="normal")
    control_level_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    control_level_by: Mapped[str | None] = mapped_column(String(128))


class Building(Base):
    __tablename__ = "buildings"
    __table_args__ = (UniqueConstraint("site_id", "name"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), index=True)
    site: Mapped[Site] = relationship(foreign_keys=[site_id])
    name: Mapped[str] = mapped_column(String(100))
    grid_id: Mapped[str | None] = mapped_column(ForeignKey("grids.id", ondelete="SET NULL"), index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class Unit(Base):
    __tablename__ = "units"
    __table_args__ = (UniqueConstraint("building_id", "name"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    building_id: Mapped[int] = mapped_column(ForeignKey("buildings.id", ondelete="CASCADE"), index=True)
    building: Mapped[Building] = relationship(foreign_keys=[building_id])
    name: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class Household(Base):
    __tablename__ = "households"
    __table_args__ = (UniqueConstraint("unit_id", "name"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id", ondelete="CASCADE"), index=True)
    unit: Mapped[Unit] = relationship(foreign_keys=[unit_id])
    name: Mapped[str] = mapped_column(String(100), default="main")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class Resident(Base):
    """A person in the registry. The id is the one gates report in ``person.resident_id``."""

    __tablename__ = "residents"
    id: Mapped[str] = mapped_column(String(ID_LEN), primary_key=True)
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), index=True)
    site: Mapped[Site] = relationship(foreign_keys=[site_id])
    household_id: Mapped[int | None] = mapped_column(ForeignKey("households.id", ondelete="SET NULL"),
                                                     index=True)
    household: Mapped[Household | None] = relationship(foreign_keys=[household_id])
    name: Mapped[str] = mapped_column(String(200))
    status: Mapped[ResidentStatus] = mapped_column(_enum(ResidentStatus, "resident_status"),
                                                   default=ResidentStatus.RESIDENT)
    phone: Mapped[str | None] = mapped_column(String(64))
    # validity: visitors always have one; tenants may (lease); open-ended when null
    valid_from: Mapped[datetime | None] = mapped_column(UtcDateTime)
    valid_until: Mapped[datetime | None] = mapped_column(UtcDateTime)
    quarantine_from: Mapped[datetime | None] = mapped_column(UtcDateTime)
    quarantine_until: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # weekly access schedule for the gates (edge/policy/schedule.py); null = any time
    schedule: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # when the status last changed: retention counts "moved out for N days" from here
    status_changed_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    notes: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)

    photos: Mapped[list[FacePhoto]] = relationship(back_populates="resident", cascade="all, delete-orphan",
                                                   passive_deletes=True)


class FacePhoto(Base):
    """An enrolment photo's face crop and its embedding for one model pack.

    Embeddings are float32 little-endian bytes (``numpy.ndarray.tobytes()``), L2-normalised; they
    leave the server only inside a compound's gallery file. A `masked` row is a masked template of
    its `parent` plain row (no crop of its own) and goes when the parent goes.
    """

    __tablename__ = "face_photos"
    __table_args__ = (Index("ix_face_photos_pack_resident", "pack", "resident_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    resident_id: Mapped[str] = mapped_column(ForeignKey("residents.id", ondelete="CASCADE"), index=True)
    pack: Mapped[str] = mapped_column(String(64))
    dim: Mapped[int] = mapped_column(Integer)
    embedding: Mapped[bytes] = mapped_column(LargeBinary)
    crop_jpeg: Mapped[bytes | None] = mapped_column(LargeBinary)  # the aligned/cropped face, not the photo
    crop_path: Mapped[str | None] = mapped_column(String(500))  # alternative: crop stored on disk
    source_name: Mapped[str | None] = mapped_column(String(255))
    quality: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    variant: Mapped[FaceVariant] = mapped_column(_enum(FaceVariant, "face_variant"), default=FaceVariant.PLAIN,
                                                 server_default=FaceVariant.PLAIN.value)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("face_photos.id", ondelete="CASCADE"), index=True)

    resident: Mapped[Resident] = relationship(back_populates="photos")


# -------------------------------------------------------------------------------------- devices
class Gate(Base):
    """A gate box. Its id is its MQTT username and the gate level of its topics."""

    __tablename__ = "gates"
    id: Mapped[str] = mapped_column(String(ID_LEN), primary_key=True)
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), index=True)
    site: Mapped[Site] = relationship(foreign_keys=[site_id])
    name: Mapped[str | None] = mapped_column(String(200))
    direction: Mapped[GateDirection] = mapped_column(_enum(GateDirection, "gate_direction"),
                                                     default=GateDirection.BOTH)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    mqtt_password_hash: Mapped[str | None] = mapped_column(String(255))
    # health, as last reported on status / telemetry
    state: Mapped[str] = mapped_column(String(16), default="unknown")  # online / offline / unknown
    last_status: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    last_telemetry: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    agent_version: Mapped[str | None] = mapped_column(String(64))
    gallery_version: Mapped[int | None] = mapped_column(Integer)  # what the gate says it runs
    config_version: Mapped[int | None] = mapped_column(Integer)
    config_error: Mapped[str | None] = mapped_column(String(300))  # why the gate refused a config
    # set while the gate reports a near-full outbox: one outbox_full alert per episode, not per telemetry
    outbox_alarm: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    pack: Mapped[str | None] = mapped_column(String(64))
    status_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    telemetry_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_seen_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # what the server wants the gate to run (published retained on ctl/config)
    desired_config: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    desired_config_version: Mapped[int] = mapped_column(Integer, default=0)
    desired_config_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    desired_config_by: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class DeviceHealth(Base):
    """History of gate health: every status change, telemetry sampled (see ingest settings)."""

    __tablename__ = "device_health"
    __table_args__ = (Index("ix_device_health_gate_at", "gate_id", "at"),)
    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    gate_id: Mapped[str] = mapped_column(ForeignKey("gates.id", ondelete="CASCADE"))
    gate: Mapped[Gate] = relationship(foreign_keys=[gate_id])
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    kind: Mapped[str] = mapped_column(String(16))  # status | telemetry
    state: Mapped[str | None] = mapped_column(String(16))
    data: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class GateSeq(Base):
    """Per gate: the highest seq N such that every event with seq <= N is committed or settled.

    This is what ``ctl/ack`` carries; the gate deletes outbox rows <= N, so it must never pass a gap.
    """

    __tablename__ = "gate_seq"
    gate_id: Mapped[str] = mapped_column(ForeignKey("gates.id", ondelete="CASCADE"), primary_key=True)
    gate: Mapped[Gate] = relationship(foreign_keys=[gate_id])
    acked_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class VisitorPass(Base):
    """A visitor pass the server signed (menwei/passes.py). The token itself is not stored: it is
    shown once, and anything it says is here."""

    __tablename__ = "visitor_passes"
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)  # = pass_id in the token
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), index=True)
    host_resident_id: Mapped[str] = mapped_column(ForeignKey("residents.id", ondelete="CASCADE"), index=True)
    gates: Mapped[list[str]] = mapped_column(JSON, default=list)  # empty: every gate of the compound
    valid_from: Mapped[datetime] = mapped_column(UtcDateTime)
    valid_until: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    note: Mapped[str | None] = mapped_column(String(200))  # e.g. "plumber", for the office; not in the token
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    created_by: Mapped[str | None] = mapped_column(String(128))
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    revoked_by: Mapped[str | None] = mapped_column(String(128))


class GateCommand(Base):
    """A remote command sent on ctl/cmd (open, snapshot, reload), kept for accountability."""

    __tablename__ = "gate_commands"
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)  # = Command.command_id on the wire
    gate_id: Mapped[str] = mapped_column(ForeignKey("gates.id", ondelete="CASCADE"), index=True)
    gate: Mapped[Gate] = relationship(foreign_keys=[gate_id])
    kind: Mapped[str] = mapped_column(String(32))
    operator: Mapped[str] = mapped_column(String(128))
    reason: Mapped[str | None] = mapped_column(String(512))
    issued_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime)  # None: sent before 0007
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    user: Mapped[User | None] = relationship(foreign_keys=[user_id])


# ---------------------------------------------------------------------------------------- users
class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(128), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[Role] = mapped_column(_enum(Role, "user_role"))
    full_name: Mapped[str | None] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

    sites: Mapped[list[UserSite]] = relationship(cascade="all, delete-orphan", passive_deletes=True)


class UserSite(Base):
    """The compounds a (non-admin) user may see; admins see everything."""

    __tablename__ = "user_sites"
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), primary_key=True,
                                         index=True)
    site: Mapped[Site] = relationship(foreign_keys=[site_id])


# --------------------------------------------------------------------------------------- events
class Entry(Base):
    """One passage at a gate, as the gate reported it, plus what reconciliation added.

    Key for the entry-log query: (site_id, captured_at DESC, id DESC) — cursor pagination walks
    (captured_at, id) so equal timestamps never skip or repeat rows.
    """

    __tablename__ = "entries"
    __table_args__ = (
        Index("ix_entries_site_captured", "site_id", "captured_at", "id"),
        Index("ix_entries_captured", "captured_at", "id"),
        Index("ix_entries_gate_captured", "gate_id", "captured_at", "id"),
        Index("ix_entries_gate_seq", "gate_id", "seq"),
        Index("ix_entries_resident_captured", "resident_id", "captured_at"),
        Index("ix_entries_site_alert_captured", "site_id", "has_alert", "captured_at", "id"),
    )
    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    event_id: Mapped[uuid.UUID] = mapped_column(Uuid, unique=True)
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id"))
    site: Mapped[Site] = relationship(foreign_keys=[site_id])
    gate_id: Mapped[str] = mapped_column(ForeignKey("gates.id"))
    gate: Mapped[Gate] = relationship(foreign_keys=[gate_id])
    seq: Mapped[int] = mapped_column(BigInteger)
    captured_at: Mapped[datetime] = mapped_column(UtcDateTime)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    direction: Mapped[str] = mapped_column(String(8))  # in / out (wire Direction)
    decision: Mapped[str] = mapped_column(String(16))  # granted / denied / alert (wire Decision)
    reasons: Mapped[list[str]] = mapped_column(JSON, default=list)
    # the person: resident_id as the gate named it (or the district re-match); no FK on purpose —
    # an entry is a historical record and must survive the resident's deletion.
    resident_id: Mapped[str | None] = mapped_column(String(ID_LEN))
    household_id: Mapped[int | None] = mapped_column(Integer)  # filled by reconciliation
    unit_id: Mapped[int | None] = mapped_column(Integer)  # filled by reconciliation
    matched_by: Mapped[MatchedBy | None] = mapped_column(_enum(MatchedBy, "matched_by"))
    score: Mapped[float | None] = mapped_column(Float)
    gallery_version: Mapped[int | None] = mapped_column(Integer)
    pack: Mapped[str | None] = mapped_column(String(64))
    temperature_c: Mapped[float | None] = mapped_column(Float)
    temperature_status: Mapped[str] = mapped_column(String(16), default="unavailable")
    temperature_method: Mapped[str | None] = mapped_column(String(64))
    # the gate's `person.mask`: a masked template named the person; None = not known (strangers,
    # gates before masked templates)
    mask: Mapped[bool | None] = mapped_column(Boolean)
    # decoded JPEG bytes; deferred so list queries never drag crops along
    face_jpeg: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    face_purged_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # set when the district re-match has looked at this unknown face (whatever it found)
    rematched_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    track: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    override: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # a visitor pass shown at the gate: its id as the gate read it (no FK: the entry outlives the
    # pass), the host the server's own pass record names (only for a pass of this compound), and
    # the gate's refusal code (None when it opened). resident_id stays None: the visitor is not the host.
    visitor_pass_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    pass_host_resident_id: Mapped[str | None] = mapped_column(String(ID_LEN))
    pass_refused: Mapped[str | None] = mapped_column(String(32))
    has_alert: Mapped[bool] = mapped_column(Boolean, default=False)

    alerts: Mapped[list[Alert]] = relationship(back_populates="entry", passive_deletes=True)


class Alert(Base):
    __tablename__ = "alerts"
    __table_args__ = (
        Index("ix_alerts_site_created", "site_id", "created_at"),
        Index("ix_alerts_open", "acknowledged_at", "created_at"),
    )
    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    kind: Mapped[AlertKind] = mapped_column(_enum(AlertKind, "alert_kind"))
    entry_id: Mapped[int | None] = mapped_column(ForeignKey("entries.id", ondelete="SET NULL"), index=True)
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    site: Mapped[Site] = relationship(foreign_keys=[site_id])
    gate_id: Mapped[str | None] = mapped_column(String(ID_LEN))
    resident_id: Mapped[str | None] = mapped_column(String(ID_LEN), index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    acknowledged_by: Mapped[str | None] = mapped_column(String(128))  # username
    acknowledged_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    entry: Mapped[Entry | None] = relationship(back_populates="alerts")


class EntryReview(Base):
    """An officer's verdict that the gate's recognition on one entry was wrong. One per entry (a
    new verdict replaces the old; the audit log keeps the history). site_id and gate_id are copied
    from the entry so the review figures group without touching the million-row entries table."""

    __tablename__ = "entry_reviews"
    __table_args__ = (Index("ix_entry_reviews_site_captured", "site_id", "captured_at"),)
    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("entries.id", ondelete="CASCADE"), unique=True)
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    gate_id: Mapped[str] = mapped_column(String(ID_LEN))
    captured_at: Mapped[datetime] = mapped_column(UtcDateTime)  # the entry's, for figures over a range
    kind: Mapped[ReviewKind] = mapped_column(_enum(ReviewKind, "review_kind"))
    note: Mapped[str | None] = mapped_column(String(500))
    reviewed_by: Mapped[str] = mapped_column(String(128))  # username
    reviewed_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class QuarantinedMessage(Base):
    """A rejected MQTT payload kept (truncated) for inspection."""

    __tablename__ = "quarantine"
    __table_args__ = (Index("ix_quarantine_gate_seq", "gate_id", "seq"),)
    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)
    topic: Mapped[str] = mapped_column(String(512))
    site_id: Mapped[str | None] = mapped_column(String(ID_LEN))  # from the topic, unverified
    gate_id: Mapped[str | None] = mapped_column(String(ID_LEN))  # from the topic, unverified
    # seq read from a rejected payload of a known gate on its own topic; when set the event is
    # "settled" for acks so one poison message cannot block that gate's outbox forever
    seq: Mapped[int | None] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(String(32))  # oversized, malformed, schema, unknown_gate, ...
    error: Mapped[str | None] = mapped_column(Text)
    payload: Mapped[bytes] = mapped_column(LargeBinary)  # first N bytes only
    payload_size: Mapped[int] = mapped_column(Integer)


# ----------------------------------------------------------------------------------- publishing
class GalleryVersion(Base):
    __tablename__ = "gallery_versions"
    __table_args__ = (UniqueConstraint("site_id", "pack", "version"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    site: Mapped[Site] = relationship(foreign_keys=[site_id])
    pack: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    count: Mapped[int] = mapped_column(Integer)
    path: Mapped[str | None] = mapped_column(String(500))
    data: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


# ------------------------------------------------------------------------------- accountability
class AuditLog(Base):
    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_object", "object_type", "object_id"),)
    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)
    user_id: Mapped[int | None] = mapped_column(Integer)  # no FK: the log outlives accounts
    username: Mapped[str | None] = mapped_column(String(128), index=True)  # or "system:retention"
    action: Mapped[str] = mapped_column(String(64))  # read, create, update, delete, purge, login, ...
    object_type: Mapped[str | None] = mapped_column(String(64))
    object_id: Mapped[str | None] = mapped_column(String(128))
    site_id: Mapped[str | None] = mapped_column(String(ID_LEN))
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    ip: Mapped[str | None] = mapped_column(String(64))
