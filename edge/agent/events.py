"""Decisions → entry events (menwei.entry/1), made once, at the moment of the decision."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import cv2
import numpy as np

from edge.pipeline.types import TrackDecision
from menwei.wire import (
    MAX_FACE_JPEG_BYTES,
    Decision,
    Direction,
    EntryEvent,
    Override,
    PassUse,
    Person,
    Reason,
    Temperature,
    TemperatureStatus,
    Track,
    pass_refusal_reason,
    uuid7,
)

CROP_MAX_PX = 200  # gates send small crops: enough for a guard and the district re-match


def face_crop_jpeg(image_bgr: np.ndarray, box) -> bytes | None:
    """The face box with a fifth of margin, at most CROP_MAX_PX, as JPEG within the wire's limit."""
    if box is None:
        return None
    x, y, w, h = (int(round(v)) for v in box)
    m = max(w, h) // 5
    H, W = image_bgr.shape[:2]  # noqa: N806
    x0, y0, x1, y1 = max(0, x - m), max(0, y - m), min(W, x + w + m), min(H, y + h + m)
    if x1 - x0 < 8 or y1 - y0 < 8:
        return None
    crop = image_bgr[y0:y1, x0:x1]
    scale = CROP_MAX_PX / max(crop.shape[:2])
    if scale < 1:
        crop = cv2.resize(crop, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    for quality in (85, 70, 50):
        ok, jpeg = cv2.imencode(".jpg", crop, [cv2.IMWRITE_JPEG_QUALITY, quality])
        if ok and len(jpeg) <= MAX_FACE_JPEG_BYTES:
            return jpeg.tobytes()
    return None


class EventFactory:
    """Builds a gate's events; the seq comes from the outbox inside its write transaction."""

    def __init__(self, site_id: str, gate_id: str, direction: str, pack: str, thermal_method: str | None):
        self.site_id, self.gate_id = site_id, gate_id
        self.direction = Direction(direction)
        self.pack = pack
        self.thermal_method = thermal_method

    def _base(self, seq: int, now: datetime) -> dict:
        return {"event_id": uuid7(int(now.timestamp() * 1000)), "site_id": self.site_id, "gate_id": self.gate_id,
                "seq": seq, "captured_at": now, "direction": self.direction}

    def from_decision(self, seq: int, d: TrackDecision, gallery_version: int, face_jpeg: bytes | None,
                      now: datetime | None = None) -> EntryEvent:
        now = now or datetime.now(UTC)
        status = TemperatureStatus(d.temperature_status)
        return EntryEvent(
            **self._base(seq, now), decision=Decision(d.decision), reasons=list(d.reasons),
            person=Person(resident_id=d.identity, score=None if d.score is None else max(-1.0, min(1.0, d.score)),
                          gallery_version=gallery_version, pack=self.pack, mask=d.mask),
            temperature=Temperature(celsius=d.temperature_c, status=status,
                                    method=self.thermal_method if d.temperature_c is not None else None),
            face_jpeg=base64.b64encode(face_jpeg).decode() if face_jpeg else None,
            track=Track(frames=max(0, d.decided_frame - d.first_frame + 1), duration_ms=int(round(d.latency_ms))))

    def override_open(self, seq: int, operator: str, reason: str, gallery_version: int, *, local: bool = False,
                      now: datetime | None = None) -> EntryEvent:
        """A guard's open: from the office (a server command) or, `local`, from the gate's own page
        (operator `local:<user>`, so the server never looks for a command behind it)."""
        now = now or datetime.now(UTC)
        code = Reason.LOCAL_OPEN if local else Reason.REMOTE_OPEN
        return EntryEvent(**self._base(seq, now), decision=Decision.GRANTED, reasons=[code.value],
                          person=Person(gallery_version=gallery_version, pack=self.pack),
                          override=Override(operator=f"local:{operator}" if local else operator, reason=reason))

    def door_event(self, seq: int, reason: Reason, at: float) -> EntryEvent:
        """What the door's rules raised (edge/door/rules.py): no person. The exit button is a
        passage out, granted; every other door event is an alert for the log."""
        now = datetime.fromtimestamp(at, UTC)
        base = self._base(seq, now)
        if reason == Reason.EXIT_REQUEST:
            return EntryEvent(**{**base, "direction": Direction.OUT}, decision=Decision.GRANTED,
                              reasons=[reason.value])
        return EntryEvent(**base, decision=Decision.ALERT, reasons=[reason.value])

    def visitor_pass(self, seq: int, use: PassUse, gallery_version: int, now: datetime | None = None) -> EntryEvent:
        """A pass shown at the gate: granted by it, or denied with pass_<code>. No person: the
        visitor is not in the gallery, and the host named by the pass is not the one at the gate."""
        now = now or datetime.now(UTC)
        accepted = use.refused is None
        reason = Reason.VISITOR_PASS if accepted else pass_refusal_reason(use.refused)
        return EntryEvent(**self._base(seq, now), decision=Decision.GRANTED if accepted else Decision.DENIED,
                          reasons=[reason.value], person=Person(gallery_version=gallery_version, pack=self.pack),
                          visitor_pass=use)
