"""The wire contract's own checks (the server's ingest tests exercise it through the broker)."""

from __future__ import annotations

import base64
import time
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from menwei import wire


def event(**kw):
    base = dict(event_id=wire.uuid7(), site_id="s1", gate_id="g1", seq=1, captured_at=datetime.now(UTC),
                direction="in", decision="granted")
    base.update(kw)
    return wire.EntryEvent(**base)


def test_uuid7_is_version_7_and_sorts_by_time():
    a = wire.uuid7(1_700_000_000_000)
    b = wire.uuid7(1_700_000_000_001)
    assert a.version == 7 and a.variant == "specified in RFC 4122" and a < b
    assert int(a.hex[:12], 16) == 1_700_000_000_000
    now = wire.uuid7()
    assert abs(int(now.hex[:12], 16) - time.time() * 1000) < 5000


def test_round_trip_keeps_everything():
    jpeg = base64.b64encode(b"\xff\xd8" + b"\x00" * 100).decode()
    e = event(face_jpeg=jpeg, reasons=["resident"], person={"resident_id": "r1", "score": 0.97})
    back = wire.EntryEvent.from_payload(e.to_json())
    assert back == e and back.schema_ == "menwei.entry/1"


@pytest.mark.parametrize("bad", [
    {"face_jpeg": "not base64!!"},
    {"face_jpeg": base64.b64encode(b"GIF89a").decode()},
    {"face_jpeg": base64.b64encode(b"\xff\xd8" + b"\x00" * (wire.MAX_FACE_JPEG_BYTES + 1)).decode()},
    {"captured_at": datetime(2026, 1, 1)},  # naive: no offset
    {"seq": 0},
    {"decision": "maybe"},
    {"site_id": "a/b"},
])
def test_invalid_events_are_refused(bad):
    with pytest.raises(ValidationError):
        event(**bad)


def test_unknown_fields_and_schema_are_refused():
    doc = event().model_dump(mode="json", by_alias=True)
    with pytest.raises(ValidationError):
        wire.EntryEvent.model_validate({**doc, "extra": 1})
    with pytest.raises(ValidationError):
        wire.EntryEvent.model_validate({**doc, "schema": "menwei.entry/2"})


def test_oversized_payload_is_refused_before_parsing():
    with pytest.raises(ValueError, match="exceeds"):
        wire.EntryEvent.from_payload(b"{" + b" " * wire.MAX_ENTRY_PAYLOAD_BYTES + b"}")


def test_topics_round_trip_and_refuse_wildcards():
    t = wire.topic("site-1", "gate-a", wire.Channel.ENTRY)
    assert t == "menwei/v1/site-1/gate-a/evt/entry"
    assert wire.parse_topic(t) == ("site-1", "gate-a", wire.Channel.ENTRY)
    assert wire.shared_subscription(wire.Channel.ENTRY) == "$share/ingest/menwei/v1/+/+/evt/entry"
    for bad in ("+", "a/b", "#", ""):
        with pytest.raises(ValueError):
            wire.topic(bad, "g", wire.Channel.ACK)
    for bad in ("other/v1/s/g/evt/entry", "menwei/v1/s/g/evt/nope", "menwei/v1/s"):
        with pytest.raises(ValueError):
            wire.parse_topic(bad)


def test_gate_helpers_are_the_only_topic_builders():
    assert wire.gate_root("site-1", "gate-a") == "menwei/v1/site-1/gate-a"
    assert wire.gate_control_filter("site-1", "gate-a") == "menwei/v1/site-1/gate-a/ctl/#"
    assert wire.shared_subscription(wire.Channel.TELEMETRY, "g1", "site-1") == "$share/g1/menwei/v1/site-1/+/telemetry"
    assert wire.ROOT_FILTER == "menwei/v1/#"
    with pytest.raises(ValueError):
        wire.shared_subscription(wire.Channel.ENTRY, "a/b")


def test_gate_usernames_have_a_namespace_of_their_own():
    assert wire.gate_username("menwei-server") == "gate.menwei-server"
    assert wire.is_gate_username("gate.x") and not wire.is_gate_username("menwei-server")
    for bad in ("", "a/b", "a:b", "#"):
        with pytest.raises(ValueError):
            wire.gate_username(bad)


def test_integers_past_the_server_columns_are_schema_errors():
    base = {"event_id": str(wire.uuid7()), "site_id": "s", "gate_id": "g", "captured_at": "2026-01-01T00:00:00Z",
            "direction": "in", "decision": "granted"}
    assert wire.EntryEvent.model_validate({**base, "seq": 2**63 - 1}).seq == 2**63 - 1
    with pytest.raises(ValidationError):
        wire.EntryEvent.model_validate({**base, "seq": 2**63})
    with pytest.raises(ValidationError):
        wire.GateStatus.model_validate({"state": "online", "gallery_version": 2**31})
