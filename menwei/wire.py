"""The MQTT wire contract between gates and the server (DESIGN.md, "Wire contract").

Both sides import this module; nothing else declares topics or payloads.
Topic root: ``menwei/v1/{site}/{gate}/...``; the gate's MQTT username is ``gate.{gate}``
(``gate_username``). Topics and topic filters are built here and nowhere else.
"""

from __future__ import annotations

import binascii
import os
import time
import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

ROOT = "menwei/v1"
ENTRY_SCHEMA = "menwei.entry/1"
MAX_FACE_JPEG_BYTES = 64 * 1024
# An entry event is small (a 64 KB crop as base64 is ~87 KB); anything far larger is hostile.
MAX_ENTRY_PAYLOAD_BYTES = 128 * 1024

# Integers the server stores: seq is a BIGINT, versions are INTEGER columns. A value past them is
# refused by the contract (a schema error), never left for the database to overflow on.
SEQ_MAX = 2**63 - 1
VERSION_MAX = 2**31 - 1

_ID = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")]


class Channel(StrEnum):
    ENTRY = "evt/entry"
    STATUS = "status"
    TELEMETRY = "telemetry"
    ACK = "ctl/ack"
    CONFIG = "ctl/config"
    GALLERY = "ctl/gallery"
    CMD = "ctl/cmd"


# (qos, retained) per channel, as fixed by the design.
DELIVERY: dict[Channel, tuple[int, bool]] = {
    Channel.ENTRY: (1, False),
    Channel.STATUS: (1, True),
    Channel.TELEMETRY: (0, False),
    Channel.ACK: (1, False),
    Channel.CONFIG: (1, True),
    Channel.GALLERY: (1, True),
    Channel.CMD: (1, False),
}


def topic(site_id: str, gate_id: str, channel: Channel) -> str:
    for part in (site_id, gate_id):
        if not part or any(c in part for c in "/+#"):
            raise ValueError(f"invalid topic level {part!r}")
    return f"{ROOT}/{site_id}/{gate_id}/{channel.value}"


def subscription(channel: Channel, site_id: str = "+", gate_id: str = "+") -> str:
    return f"{ROOT}/{site_id}/{gate_id}/{channel.value}"


def shared_subscription(channel: Channel, group: str = "ingest", site_id: str = "+") -> str:
    """MQTT 5 shared subscription so several ingest workers split the load."""
    if not group or any(c in group for c in "/+#"):
        raise ValueError(f"invalid shared-subscription group {group!r}")
    return f"$share/{group}/{subscription(channel, site_id)}"


def gate_root(site_id: str, gate_id: str) -> str:
    """The topic root of one gate, ``menwei/v1/{site}/{gate}`` (given to the gate at provisioning)."""
    return topic(site_id, gate_id, Channel.ENTRY).rsplit("/", 2)[0]


def gate_control_filter(site_id: str, gate_id: str) -> str:
    """Every server→gate topic of one gate (``…/ctl/#``): what the gate may read."""
    return f"{gate_root(site_id, gate_id)}/ctl/#"


# Everything under the root: the server account's ACL.
ROOT_FILTER = f"{ROOT}/#"

# Gate MQTT usernames live in a namespace of their own, ``gate.<gate_id>``: no server or worker
# account may start with it, so a gate id can never be a second line for the server's account
# in the broker's password file (issue 8, item 1).
GATE_USER_PREFIX = "gate."


def gate_username(gate_id: str) -> str:
    """The MQTT username of a gate (its client id too, on a listener with use_username_as_clientid)."""
    if not gate_id or any(c in gate_id for c in "/+#:"):
        raise ValueError(f"invalid gate id {gate_id!r}")
    return f"{GATE_USER_PREFIX}{gate_id}"


def is_gate_username(username: str) -> bool:
    return username.startswith(GATE_USER_PREFIX)


def parse_topic(name: str) -> tuple[str, str, Channel]:
    """Split a concrete topic into (site_id, gate_id, channel); ValueError if it is not ours."""
    prefix = ROOT + "/"
    if not name.startswith(prefix):
        raise ValueError(f"topic outside {ROOT}: {name!r}")
    parts = name[len(prefix) :].split("/", 2)
    if len(parts) != 3 or not parts[0] or not parts[1]:
        raise ValueError(f"malformed topic: {name!r}")
    try:
        channel = Channel(parts[2])
    except ValueError:
        raise ValueError(f"unknown channel in topic: {name!r}") from None
    return parts[0], parts[1], channel


def uuid7(unix_ms: int | None = None) -> uuid.UUID:
    """RFC 9562 UUIDv7: 48-bit ms timestamp, version 7, 74 random bits (sortable by capture time)."""
    ms = int(time.time() * 1000) if unix_ms is None else int(unix_ms)
    rand = int.from_bytes(os.urandom(10), "big")
    value = (ms & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76
    value |= ((rand >> 62) & 0xFFF) << 64  # rand_a, 12 bits
    value |= 0b10 << 62  # variant
    value |= rand & ((1 << 62) - 1)  # rand_b
    return uuid.UUID(int=value)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Decision(StrEnum):
    GRANTED = "granted"
    DENIED = "denied"
    ALERT = "alert"


class Direction(StrEnum):
    IN = "in"
    OUT = "out"


class TemperatureStatus(StrEnum):
    NORMAL = "normal"
    FEVER = "fever"
    UNAVAILABLE = "unavailable"


class Person(_Strict):
    resident_id: str | None = Field(default=None, max_length=64)
    score: float | None = Field(default=None, ge=-1.0, le=1.0)
    gallery_version: int | None = Field(default=None, ge=0, le=VERSION_MAX)
    pack: str | None = Field(default=None, max_length=64)
    # wears a mask (the template that named the person was a masked one); absent = not known, so
    # payloads from gates before masked templates stay valid
    mask: bool | None = None


class Temperature(_Strict):
    celsius: float | None = Field(default=None, ge=-40.0, le=120.0)
    status: TemperatureStatus
    method: str | None = Field(default=None, max_length=64)


class Track(_Strict):
    frames: int = Field(ge=0)
    duration_ms: int = Field(ge=0)


class Override(_Strict):
    operator: str = Field(min_length=1, max_length=128)
    reason: str = Field(min_length=1, max_length=512)


class PassUse(_Strict):
    """A visitor pass shown at the gate. A refused pass whose signature did not verify names
    nothing (its claims are not believed); one refused for time, gate or revocation names them."""

    pass_id: uuid.UUID | None = None
    host_resident_id: str | None = Field(default=None, max_length=64)
    refused: str | None = Field(default=None, max_length=32)  # the PassRefused code, None when accepted


class EntryEvent(_Strict):
    """One passage at a gate, made at capture time and never changed afterwards."""

    schema_: Literal["menwei.entry/1"] = Field(default=ENTRY_SCHEMA, alias="schema")
    event_id: uuid.UUID
    site_id: _ID
    gate_id: _ID
    seq: int = Field(ge=1, le=SEQ_MAX)
    captured_at: datetime
    direction: Direction
    decision: Decision
    reasons: list[Annotated[str, Field(max_length=128)]] = Field(default_factory=list, max_length=32)
    person: Person = Field(default_factory=Person)
    temperature: Temperature = Field(
        default_factory=lambda: Temperature(status=TemperatureStatus.UNAVAILABLE)
    )
    face_jpeg: str | None = Field(default=None, description="base64 JPEG face crop, at most 64 KB")
    track: Track | None = None
    override: Override | None = None
    visitor_pass: PassUse | None = None

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @field_validator("captured_at")
    @classmethod
    def _utc(cls, v: datetime) -> datetime:
        if v.tzinfo is None:
            raise ValueError("captured_at must carry a UTC offset")
        return v.astimezone(UTC)

    @field_validator("face_jpeg")
    @classmethod
    def _jpeg(cls, v: str | None) -> str | None:
        if v is None:
            return v
        try:  # binascii's strict mode checks the alphabet in C (b64decode's validate uses a regex)
            raw = binascii.a2b_base64(v, strict_mode=True)
        except (binascii.Error, ValueError):
            raise ValueError("face_jpeg is not valid base64") from None
        if len(raw) > MAX_FACE_JPEG_BYTES:
            raise ValueError(f"face_jpeg is {len(raw)} bytes, limit {MAX_FACE_JPEG_BYTES}")
        if raw[:2] != b"\xff\xd8":
            raise ValueError("face_jpeg is not a JPEG")
        return v

    def to_json(self) -> bytes:
        return self.model_dump_json(by_alias=True, exclude_none=True).encode()

    @classmethod
    def from_payload(cls, payload: bytes) -> EntryEvent:
        """Parse a raw MQTT payload; raises ValueError (size) or pydantic.ValidationError."""
        if len(payload) > MAX_ENTRY_PAYLOAD_BYTES:
            raise ValueError(f"payload of {len(payload)} bytes exceeds {MAX_ENTRY_PAYLOAD_BYTES}")
        return cls.model_validate_json(payload)


class GateStatus(BaseModel):
    """Retained on ``status``; the gate's Last Will publishes ``{"state": "offline"}``."""

    model_config = ConfigDict(extra="allow")
    state: Literal["online", "offline"]
    agent_version: str | None = Field(default=None, max_length=64)
    gallery_version: int | None = Field(default=None, ge=0, le=VERSION_MAX)
    config_version: int | None = Field(default=None, ge=0, le=VERSION_MAX)
    config_error: str | None = Field(default=None, max_length=300)  # why the last config was refused
    pack: str | None = Field(default=None, max_length=64)
    at: datetime | None = None


class Telemetry(BaseModel):
    model_config = ConfigDict(extra="allow")
    fps: float | None = None
    latency_ms: dict[str, float] = Field(default_factory=dict)
    outbox_depth: int | None = None
    outbox_near_full: bool | None = None  # >= 90 % of its capacity: the server raises outbox_full
    outbox_refused: int | None = None  # decisions refused since the agent started (the door stayed shut)
    box_temperatures_c: dict[str, float] = Field(default_factory=dict)
    at: datetime | None = None


class Ack(_Strict):
    """Every event of this gate with seq <= acked_seq is committed on the server."""

    acked_seq: int = Field(ge=0)


class GalleryAnnouncement(_Strict):
    version: int = Field(ge=0)
    url: str
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    count: int = Field(ge=0)
    pack: str | None = None


class GateConfigMessage(BaseModel):
    model_config = ConfigDict(extra="allow")
    version: int = Field(ge=0)
    config: dict = Field(default_factory=dict)


class CommandKind(StrEnum):
    OPEN = "open"
    SNAPSHOT = "snapshot"
    RELOAD = "reload"


class Command(_Strict):
    command_id: uuid.UUID
    kind: CommandKind
    operator: str = Field(min_length=1, max_length=128)
    reason: str | None = Field(default=None, max_length=512)
    issued_at: datetime
    # set by the server (issued_at + its command_ttl_s): MQTT 3.1.1 has no message expiry, so the
    # gate checks this too; None from an older server, then only the gate's own TTL applies
    expires_at: datetime | None = None


class Reason(StrEnum):
    """Stable reason codes of a gate decision, shared by gate, server, UI and docs (docs/POLICY.md)."""

    RESIDENT_RECOGNISED = "resident_recognised"
    UNKNOWN_FACE = "unknown_face"
    FEVER = "fever"
    TEMPERATURE_UNAVAILABLE = "temperature_unavailable"
    STATUS_MOVED_OUT = "status_moved_out"
    STATUS_BANNED = "status_banned"
    QUARANTINE_EXIT = "quarantine_exit"
    NOT_YET_VALID = "not_yet_valid"
    EXPIRED = "expired"
    OUTSIDE_SCHEDULE = "outside_schedule"
    REPEATED_FAILED_MATCHES = "repeated_failed_matches"
    LIVENESS_FAILED = "liveness_failed"
    LIVENESS_NOT_CHECKED = "liveness_not_checked"
    MASK_MISSING = "mask_missing"
    # the compound's control level refuses this person (e.g. lockdown: registered visitors)
    CONTROL_LEVEL = "control_level"
    TIMEOUT = "timeout"
    REMOTE_OPEN = "remote_open"  # a guard opened the door from the office (a server command)
    LOCAL_OPEN = "local_open"  # a guard opened it from the gate's own status page
    # door events (edge/door/rules.py): recorded like passages, with no person
    FIRE_ALARM = "fire_alarm"  # the fire panel's contact: the door is released while it lasts
    FIRE_ALARM_CLEARED = "fire_alarm_cleared"
    FORCED_OPEN = "forced_open"  # the leaf opened while the lock was not released
    HELD_OPEN_PREALARM = "held_open_prealarm"
    HELD_OPEN = "held_open"
    EXIT_REQUEST = "exit_request"  # the exit button released the door
    PASSBACK = "passback"  # anti-passback: the same person the same way twice (soft: logged, hard: denied)
    # visitor passes (menwei/passes.py): granted by a valid pass, or refused with why
    VISITOR_PASS = "visitor_pass"
    PASS_BAD_FORMAT = "pass_bad_format"
    PASS_BAD_SIGNATURE = "pass_bad_signature"
    PASS_NOT_YET_VALID = "pass_not_yet_valid"
    PASS_EXPIRED = "pass_expired"
    PASS_WRONG_GATE = "pass_wrong_gate"
    PASS_REVOKED = "pass_revoked"
    PASS_LOCKDOWN = "pass_lockdown"  # a valid pass, refused while the compound is in lockdown


# Door events that are alarms for a guard to acknowledge (the server raises a door_alarm alert);
# the pre-alarm is the local buzzer's warning and the exit button an ordinary passage.
DOOR_ALARM_REASONS = frozenset({Reason.FIRE_ALARM, Reason.FORCED_OPEN, Reason.HELD_OPEN})
# door events with no person in front of the camera: never an unknown_person alert
DOOR_EVENT_REASONS = DOOR_ALARM_REASONS | {Reason.FIRE_ALARM_CLEARED, Reason.HELD_OPEN_PREALARM,
                                           Reason.EXIT_REQUEST}


def pass_refusal_reason(code: str) -> Reason:
    """The reason code of a refused pass (menwei.passes.PassRefused.code → pass_<code>)."""
    return Reason(f"pass_{code}")
