"""Tracking: one id per person across frames (edge/vision's IoU tracker) and what the pipeline
has learnt about each person so far."""

from __future__ import annotations

from dataclasses import dataclass, field

from edge.face.gallery import Match
from edge.face.packs.base import Detection
from edge.face.types import Face
from edge.pipeline.gating import BestFrames
from edge.pipeline.types import FrameDetections, TrackDecision
from edge.thermal.estimate import ThermalReading
from edge.thermal.liveness import LivenessResult
from edge.vision.boxes import Box, iou
from edge.vision.tracks import Tracker


@dataclass
class PersonTrack:
    """The evidence for one tracked face, gathered frame by frame until its decision."""

    track_id: int
    first_frame: int
    first_t: float  # media time of first_frame
    first_clock: float  # perf_counter at the start of processing first_frame
    best: BestFrames
    last_frame: int = -1
    last_t: float = 0.0
    last_box: Box | None = None
    face: Face | None = None  # the latest face (box + landmarks), quality measured when checked
    first_good_frame: int | None = None
    first_good_clock: float | None = None
    embeddings: int = 0
    last_embedded_frame: int = -(10**9)
    scores: list[Match] = field(default_factory=list)  # best match of each embedding
    identity_state: str = "pending"  # "pending" | "uncertain" | "match" | "unknown"
    readings: list[ThermalReading] = field(default_factory=list)  # valid (normal/fever) readings
    last_reading: ThermalReading | None = None
    last_thermal_t: float | None = None  # timestamp of the sensor frame last read: one reading per sensor frame
    liveness: list[LivenessResult] = field(default_factory=list)  # one per sensor frame looked at
    last_liveness_t: float | None = None  # timestamp of the sensor frame last judged for liveness
    decision: TrackDecision | None = None

    @property
    def best_match(self) -> Match | None:
        return max(self.scores, key=lambda m: m.score, default=None)


class TrackBook:
    """Assigns detections to people and reports the people who left.

    A detector can lose a face for a while (HOG misses some views for a second) and find it again
    as a new track; a new track that starts where a person was lost less than `reacquire_s` ago
    (box overlap) continues that person, so one person still gets one decision. A lost person is
    reported as gone only once that window has passed.
    """

    def __init__(self, best_frames: int, max_missed: int, reacquire_s: float = 1.5, reacquire_iou: float = 0.3):
        self.tracker = Tracker(max_missed=max_missed)
        self.best_frames = best_frames
        self.reacquire_s = reacquire_s
        self.reacquire_iou = reacquire_iou
        self.people: dict[int, PersonTrack] = {}  # by tracker id
        self.lost: list[PersonTrack] = []
        self.created = 0

    def update(self, found: FrameDetections, index: int, t: float,
               clock: float) -> tuple[list[tuple[PersonTrack, Detection]], list[PersonTrack]]:
        """(person, detection) for every detection this frame, and the people who are gone."""
        boxes = [d.bbox for d in found.detections]
        pairs = self.tracker.update(boxes, index, found.searched)
        out = []
        for track, bi in pairs:
            person = self.people.get(track.track_id)
            if person is None:
                person = self._reacquire(track.bbox, t)
                if person is None:
                    person = PersonTrack(track.track_id, index, t, clock, BestFrames(self.best_frames))
                    self.created += 1
                self.people[track.track_id] = person
            person.last_frame, person.last_t, person.last_box = index, t, track.bbox
            out.append((person, found.detections[bi]))
        alive = {tr.track_id for tr in self.tracker.tracks}
        for tid in [tid for tid in self.people if tid not in alive]:
            self.lost.append(self.people.pop(tid))
        gone = [p for p in self.lost if t - p.last_t > self.reacquire_s]
        self.lost = [p for p in self.lost if t - p.last_t <= self.reacquire_s]
        return out, gone

    def _reacquire(self, box, t: float) -> PersonTrack | None:
        cands = [(iou(p.last_box, box), p) for p in self.lost
                 if p.last_box is not None and t - p.last_t <= self.reacquire_s]
        cands = [c for c in cands if c[0] >= self.reacquire_iou]
        if not cands:
            return None
        person = max(cands, key=lambda c: c[0])[1]
        self.lost.remove(person)
        return person

    def close(self) -> list[PersonTrack]:
        """Everyone still known (end of stream)."""
        rest = [*self.people.values(), *self.lost]
        self.people.clear()
        self.lost.clear()
        return rest
