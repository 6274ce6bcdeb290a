"""The decision stage: the track's evidence in the policy's terms, then edge/policy's `decide`.

The policy is a pure function; this stage only builds its Evidence and carries the gate's
counters (consecutive failed matches) from one decision to the next.
"""

from __future__ import annotations

from datetime import datetime
from statistics import median

from edge.face.gallery import Gallery
from edge.policy import Evidence, GateCounters, Identity, Liveness, PolicyConfig, Verdict, decide
from menwei.wire import Direction, TemperatureStatus


class DecisionStage:
    def __init__(self, gallery: Gallery, config: PolicyConfig | None = None, direction: str = "in"):
        self.gallery = gallery
        self.config = config or PolicyConfig()
        self.direction = Direction(direction)
        self.counters = GateCounters()

    def identity(self, resident_id: str | None, score: float | None) -> Identity | None:
        if resident_id is None:
            return None
        return Identity(resident_id=resident_id, score=float(score or 0.0),
                        attributes=dict(self.gallery.attributes.get(resident_id, {})))

    def decide(self, resident_id: str | None, score: float | None, temperatures: list[float],
               statuses: list[TemperatureStatus], at: datetime, *, liveness: Liveness | None = None,
               mask: bool | None = None) -> Verdict:
        """`temperatures`/`statuses`: the track's valid readings (empty = unavailable). `liveness`:
        the track's thermal liveness (None: no thermal sensor, i.e. not checked); `mask`: whether
        the face wears one (None: not known)."""
        if temperatures:
            celsius = float(median(temperatures))
            status = TemperatureStatus.FEVER if statuses.count(TemperatureStatus.FEVER) * 2 > len(statuses) \
                else TemperatureStatus.NORMAL
        else:
            celsius, status = None, TemperatureStatus.UNAVAILABLE
        evidence = Evidence(identity=self.identity(resident_id, score), temperature_c=celsius,
                            temperature_status=status, liveness=liveness or Liveness(live=None),
                            direction=self.direction, at=at, mask=mask)
        verdict, self.counters = decide(self.config, evidence, self.counters)
        return verdict
