"""Visitor passes at the gate: QR codes read from every Nth frame, verified offline with the
server's public key (menwei/passes.py), one use per code per `repeat_s`.

A phone held up to the camera stays in view for seconds, i.e. dozens of frames: without the
dedupe each of them would be an entry and a door opening. A code that does not start with the
pass prefix (a poster's URL, a parcel label) is not a pass and is ignored, so a QR code that
happens to hang in view does not fill the entry log; anything that claims to be a pass and fails
is a refused use, recorded.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from edge.capture.source import Frame
from edge.vision.qr import QrReader
from menwei.passes import PREFIX, PassRefused, VisitorPass, verify_pass
from menwei.wire import PassUse


@dataclass(frozen=True)
class PassOutcome:
    """One use of a pass: accepted (`claims` is the pass) or refused with `code`; a refused pass
    keeps its claims only when its signature verified (expired, not yet valid, wrong gate,
    revoked), never for bad_signature or bad_format."""

    accepted: bool
    code: str | None
    message: str
    claims: VisitorPass | None

    def use(self) -> PassUse:
        c = self.claims
        return PassUse(pass_id=c.pass_id if c else None, host_resident_id=c.host_resident_id if c else None,
                       refused=self.code)


@dataclass
class PassStats:
    scans: int = 0  # frames looked at for a code
    accepted: int = 0
    refused: int = 0
    repeats: int = 0  # sightings of a code already used within repeat_s
    foreign: int = 0  # QR codes that are not passes


class PassCheck:
    def __init__(self, public_key: bytes, site_id: str, gate_id: str, *,
                 revoked: Callable[[], frozenset[str]], allowed: Callable[[], bool] = lambda: True,
                 every_n_frames: int = 3, repeat_s: float = 10.0,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC), reader: QrReader | None = None):
        """`revoked` is asked at each verification, so a gallery that arrives with a new
        revocation list takes effect at the next code; `clock` is the wall clock the validity
        window is checked against (the frames' own times only space the uses). `allowed` is asked
        likewise: false (a compound in lockdown) refuses a valid pass with code "lockdown"."""
        self.public_key, self.site_id, self.gate_id = public_key, site_id, gate_id
        self.allowed = allowed
        self.revoked, self.every_n, self.repeat_s, self.clock = revoked, every_n_frames, repeat_s, clock
        self.reader = reader or QrReader()
        self.stats = PassStats()
        self._frames = 0
        self._last_use: dict[bytes, float] = {}  # sha256 of the token → frame time of its last use

    def check(self, frame: Frame) -> list[PassOutcome]:
        """The uses this frame makes (most frames: none)."""
        self._frames += 1
        if (self._frames - 1) % self.every_n:
            return []
        self.stats.scans += 1
        out = []
        for text in self.reader.read(frame.image):
            if not text.startswith(PREFIX):
                self.stats.foreign += 1
                continue
            if self._repeat(text, frame.timestamp):
                self.stats.repeats += 1
                continue
            out.append(self._verify(text))
        return out

    def _repeat(self, token: str, t: float) -> bool:
        key = hashlib.sha256(token.encode()).digest()
        last = self._last_use.get(key)
        # a time going backwards is a restarted source: the code counts as new
        if last is not None and 0 <= t - last < self.repeat_s:
            return True
        self._last_use = {k: v for k, v in self._last_use.items() if 0 <= t - v < self.repeat_s}  # stays small
        self._last_use[key] = t
        return False

    def _verify(self, token: str) -> PassOutcome:
        try:
            p = verify_pass(token, self.public_key, site_id=self.site_id, gate_id=self.gate_id, now=self.clock(),
                            revoked=self.revoked())
        except PassRefused as exc:
            self.stats.refused += 1
            return PassOutcome(False, exc.code, exc.message, exc.claims)
        if not self.allowed():
            self.stats.refused += 1
            return PassOutcome(False, "lockdown", f"pass {p.pass_id}: the compound is in lockdown", p)
        self.stats.accepted += 1
        return PassOutcome(True, None, f"pass {p.pass_id} (host {p.host_resident_id})", p)
