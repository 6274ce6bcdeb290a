"""Classify one MQTT message: an accepted entry, a health report, or a rejection with a reason.

Checks run cheapest first and the size check precedes any parsing, so a hostile 10 MB payload
costs one len(). Nothing here touches the database: the caller passes the registered gates.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from pydantic import ValidationError

from menwei.wire import (
    MAX_ENTRY_PAYLOAD_BYTES,
    SEQ_MAX,
    Channel,
    EntryEvent,
    GateStatus,
    Telemetry,
    parse_topic,
)

# status/telemetry are a few hundred bytes; anything much larger is not from our agent
MAX_HEALTH_PAYLOAD_BYTES = 16 * 1024

# rejection reasons (stable: counters and the quarantine table use them)
OVERSIZED = "oversized"
MALFORMED = "malformed"  # not UTF-8 JSON
SCHEMA = "schema"  # JSON, but not the contract's shape or types
BAD_TOPIC = "bad_topic"
UNKNOWN_GATE = "unknown_gate"
WRONG_SITE = "wrong_site"  # the topic's gate is registered under another site
TOPIC_MISMATCH = "topic_mismatch"  # payload site/gate differ from the topic it came on
STORE_ERROR = "store_error"  # valid-looking message the database refused on its own
GATE_INACTIVE = "gate_inactive"  # an entry from a gate deactivated in the registry
CLOCK_SKEW = "clock_skew"  # captured_at too far from the arrival time to be true
REASONS = (OVERSIZED, MALFORMED, SCHEMA, BAD_TOPIC, UNKNOWN_GATE, WRONG_SITE, TOPIC_MISMATCH, STORE_ERROR,
           GATE_INACTIVE, CLOCK_SKEW)


@dataclass(frozen=True)
class CaptureBounds:
    """How far ``captured_at`` may lie from the arrival time: ``ahead`` into the future (gate clock
    drift) and ``behind`` into the past (how long a gate may have been offline with a full outbox)."""

    ahead: timedelta = timedelta(minutes=5)
    behind: timedelta = timedelta(days=366)

    @classmethod
    def from_settings(cls, settings) -> CaptureBounds:
        return cls(timedelta(seconds=settings.clock_skew_s), timedelta(hours=settings.max_event_age_h))

    def refuses(self, captured_at: datetime, received_at: datetime) -> str | None:
        if captured_at > received_at + self.ahead:
            return f"captured_at {captured_at.isoformat()} is more than {self.ahead} after its arrival"
        if captured_at < received_at - self.behind:
            return f"captured_at {captured_at.isoformat()} is more than {self.behind} before its arrival"
        return None


DEFAULT_BOUNDS = CaptureBounds()


@dataclass(frozen=True)
class Incoming:
    topic: str
    payload: bytes
    mid: int
    qos: int
    retain: bool
    received_at: datetime


@dataclass(frozen=True)
class GateRef:
    site_id: str
    active: bool = True


@dataclass(frozen=True)
class AcceptedEntry:
    msg: Incoming
    event: EntryEvent
    face_jpeg: bytes | None = None  # decoded once here, off the database thread


@dataclass(frozen=True)
class HealthReport:
    msg: Incoming
    site_id: str
    gate_id: str
    channel: Channel
    status: GateStatus | None = None
    telemetry: Telemetry | None = None


@dataclass(frozen=True)
class Rejected:
    msg: Incoming
    reason: str
    error: str
    site_id: str | None = None
    gate_id: str | None = None
    # set only for a schema-invalid entry of a registered gate on its own topic: see GateSeq
    seq: int | None = None


Classified = AcceptedEntry | HealthReport | Rejected


def topic_gate(topic: str) -> tuple[str, str, Channel] | None:
    try:
        return parse_topic(topic)
    except ValueError:
        return None


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"]) or "payload"
    return f"{where}: {err['msg']}"[:500]


def _settled_seq(payload: bytes, site_id: str, gate_id: str) -> int | None:
    """The seq of a schema-invalid entry, if it plainly comes from this gate's own outbox."""
    try:
        data = json.loads(payload)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    seq = data.get("seq")
    if type(seq) is not int or not 1 <= seq <= SEQ_MAX:  # past SEQ_MAX no column could hold it
        return None
    if data.get("gate_id", gate_id) != gate_id or data.get("site_id", site_id) != site_id:
        return None
    return seq


def parse(msg: Incoming, bounds: CaptureBounds = DEFAULT_BOUNDS) -> Classified:
    """Every check that needs no database: topic, size, JSON, schema, payload ids = topic ids,
    captured_at within ``bounds`` of the arrival.

    Runs on the parsing thread while the previous batch is being written.
    """
    where = topic_gate(msg.topic)
    if where is None:
        return Rejected(msg, BAD_TOPIC, f"not a menwei topic: {msg.topic[:200]!r}")
    site_id, gate_id, channel = where
    limit = MAX_ENTRY_PAYLOAD_BYTES if channel == Channel.ENTRY else MAX_HEALTH_PAYLOAD_BYTES
    if len(msg.payload) > limit:
        return Rejected(msg, OVERSIZED, f"{len(msg.payload)} bytes, limit {limit}", site_id, gate_id)
    if channel == Channel.ENTRY:
        try:
            event = EntryEvent.from_payload(msg.payload)
        except ValidationError as exc:
            if any(e["type"] == "json_invalid" for e in exc.errors()):
                return Rejected(msg, MALFORMED, _first_error(exc), site_id, gate_id)
            return Rejected(msg, SCHEMA, _first_error(exc), site_id, gate_id,
                            seq=_settled_seq(msg.payload, site_id, gate_id))
        except ValueError as exc:  # size, or bytes that are not UTF-8
            return Rejected(msg, MALFORMED, str(exc)[:500], site_id, gate_id)
        if event.site_id != site_id or event.gate_id != gate_id:
            return Rejected(msg, TOPIC_MISMATCH,
                            f"payload says {event.site_id}/{event.gate_id}, topic says {site_id}/{gate_id}",
                            site_id, gate_id)
        skew = bounds.refuses(event.captured_at, msg.received_at)
        if skew is not None:
            # refused, not clamped: a time known to be false would corrupt the double-entry
            # timeline, retention and the daily figures. The seq is settled so the outbox drains.
            return Rejected(msg, CLOCK_SKEW, skew, site_id, gate_id, seq=event.seq)
        # already validated as base64 of a JPEG by the contract model
        face = base64.b64decode(event.face_jpeg) if event.face_jpeg else None
        return AcceptedEntry(msg, event, face)
    if channel in (Channel.STATUS, Channel.TELEMETRY):
        if not msg.payload:
            # an empty retained message only clears the broker's copy (gate deleted)
            return HealthReport(msg, site_id, gate_id, channel)
        model = GateStatus if channel == Channel.STATUS else Telemetry
        try:
            parsed = model.model_validate_json(msg.payload)
        except ValidationError as exc:
            reason = MALFORMED if any(e["type"] == "json_invalid" for e in exc.errors()) else SCHEMA
            return Rejected(msg, reason, _first_error(exc), site_id, gate_id)
        except ValueError as exc:
            return Rejected(msg, MALFORMED, str(exc)[:500], site_id, gate_id)
        if channel == Channel.STATUS:
            return HealthReport(msg, site_id, gate_id, channel, status=parsed)
        return HealthReport(msg, site_id, gate_id, channel, telemetry=parsed)
    return Rejected(msg, BAD_TOPIC, f"the server does not consume {channel.value}", site_id, gate_id)


def check_gate(c: Classified, gates: dict[str, GateRef]) -> Classified:
    """The registry check: the topic's gate must be registered, under the topic's site."""
    if isinstance(c, Rejected):
        if c.seq is not None:
            gate = gates.get(c.gate_id or "")
            if gate is None or gate.site_id != c.site_id:
                # only a registered gate's own seq may settle anything
                return Rejected(c.msg, c.reason, c.error, c.site_id, c.gate_id)
        return c
    site_id, gate_id, _ = topic_gate(c.msg.topic)  # parse() accepted it, so the topic is ours
    gate = gates.get(gate_id or "")
    if gate is None:
        return Rejected(c.msg, UNKNOWN_GATE, f"gate {gate_id!r} is not registered", site_id, gate_id)
    if gate.site_id != site_id:
        return Rejected(c.msg, WRONG_SITE, f"gate {gate_id!r} belongs to site {gate.site_id!r}", site_id, gate_id)
    if not gate.active and isinstance(c, AcceptedEntry):
        # kept out of the entry log but settled (and so acked): a box that still runs after it
        # was deactivated must not resend the same events for ever
        return Rejected(c.msg, GATE_INACTIVE, f"gate {gate_id!r} is deactivated", site_id, gate_id,
                        seq=c.event.seq)
    return c
