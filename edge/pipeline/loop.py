"""The gate loop: one frame at a time through every stage, one decision per person.

    detect → track → quality gate + best frames → embed (batched, only tracks that need it)
    → 1:N match → thermal reading + liveness → decide

A person is decided as soon as the evidence suffices — an identity that is certain (a confident
match, or clearly nobody in the gallery) and a temperature (or no thermal sensor) — or when
`timeout_s` of media time has passed since the face was first seen (also while the face is out of
sight in the re-acquire window); a track that ends first is decided on what it showed. A track that never showed a usable face gets no decision.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from statistics import median

from edge.capture.source import Frame
from edge.face.engine import FaceEngine
from edge.face.gallery import Gallery
from edge.pipeline.decide import DecisionStage
from edge.pipeline.detector import Detector, default_detector
from edge.pipeline.gating import QualityGate
from edge.pipeline.identify import Identifier, assess, wants_embedding
from edge.pipeline.liveness_vote import track_liveness
from edge.pipeline.thermal_reading import ThermalReader, is_valid
from edge.pipeline.timing import StageClock
from edge.pipeline.tracking import PersonTrack, TrackBook
from edge.pipeline.types import PipelineConfig, PipelineStats, TrackDecision
from menwei.wire import TemperatureStatus


class GatePipeline:
    def __init__(self, engine: FaceEngine, gallery: Gallery, *, detector: Detector | None = None,
                 thermal: ThermalReader | None = None, policy=None, config: PipelineConfig | None = None,
                 start: datetime | None = None, on_decision: Callable[[TrackDecision], None] | None = None):
        """`policy`: an edge.policy.PolicyConfig (default: its defaults). `start`: the wall time of
        media time 0 (the `at` of decisions; default now)."""
        self.engine = engine
        self.config = config or PipelineConfig()
        self.detector = detector
        self.thermal = thermal
        self.gate = QualityGate(engine.runtime.embedder, engine.limits, engine.runtime.landmarker.scheme)
        self.identifier = Identifier(engine, gallery)
        self.decider = DecisionStage(gallery, policy, self.config.direction)
        self.book = TrackBook(self.config.best_frames, self.config.track_max_missed, self.config.reacquire_s)
        self.clock = StageClock()
        self.stats = PipelineStats(stages=self.clock.stages)
        self.start = start or datetime.now(UTC)
        self.on_decision = on_decision
        self.decisions: list[TrackDecision] = []
        self._last: Frame | None = None

    def reconfigure(self, *, gallery: Gallery | None = None, policy=None) -> None:
        """Between two frames: a new gallery (from the server) or policy (remote config). Open
        tracks keep their state; the gate's counters (consecutive failed matches) carry over."""
        counters = self.decider.counters
        if gallery is not None:
            self.identifier = Identifier(self.engine, gallery)
        self.decider = DecisionStage(gallery or self.decider.gallery, policy or self.decider.config,
                                     self.config.direction)
        self.decider.counters = counters

    @property
    def gallery(self) -> Gallery:
        return self.decider.gallery

    @property
    def last_frame(self) -> Frame | None:
        """The frame processed last (what finish() decides the remaining tracks on)."""
        return self._last

    # -- one frame ----------------------------------------------------------------------------------
    def process(self, frame: Frame) -> list[TrackDecision]:
        """Run every stage on `frame`; the decisions made on it."""
        t0 = time.perf_counter()
        stage = self.clock.stage
        if self.detector is None:
            self.detector = default_detector(self.engine, frame.image.shape[1])
        with stage("detect"):
            found = self.detector.detect(frame.image, frame.index)
        with stage("track"):
            seen, ended = self.book.update(found, frame.index, frame.timestamp, t0)
        self.stats.frames += 1
        self.stats.tracks = self.book.created
        out = [d for p in ended if (d := self._decide(p, frame, "track_lost")) is not None]
        self.stats.undecided_tracks += sum(p.decision is None for p in ended)
        # a person out of sight but still within the re-acquire window is not waited for past the
        # timeout: the decision would otherwise come only when the window closes (a distant face
        # without a temperature was decided 1.3 s after it had left)
        out += [d for p in self.book.lost
                if p.decision is None and frame.timestamp - p.first_t >= self.config.timeout_s
                and (d := self._decide(p, frame, "timeout")) is not None]

        open_ = [(p, det) for p, det in seen if p.decision is None]
        with stage("quality"):
            for person, det in open_:
                face, good = self.gate.check(frame.image, det, frame.index)
                person.face = face
                if good is not None:
                    if person.first_good_frame is None:
                        person.first_good_frame, person.first_good_clock = frame.index, t0
                    person.best.offer(good)
        self._identify(open_, frame.index)
        self._read_temperatures(open_, frame)
        with stage("decide"):
            for person, _ in open_:
                trigger = self._ready(person, frame)
                if trigger and (d := self._decide(person, frame, trigger)) is not None:
                    out.append(d)
        self._last = frame
        return out

    def finish(self) -> list[TrackDecision]:
        """End of stream: decide everyone still in view on what they showed."""
        if self._last is None:
            return []
        rest = self.book.close()
        out = [d for p in rest if (d := self._decide(p, self._last, "end_of_stream")) is not None]
        self.stats.undecided_tracks += sum(p.decision is None for p in rest)
        return out

    # -- stages ---------------------------------------------------------------------------------------
    def _identify(self, open_: list[tuple[PersonTrack, object]], index: int) -> None:
        todo = [(p, g) for p, _ in open_ if (g := wants_embedding(p, index, self.config)) is not None]
        if not todo:
            return
        with self.clock.stage("embed"):
            vectors = self.identifier.embed([g for _, g in todo])
        with self.clock.stage("match"):
            matches = self.identifier.match(vectors)
            for (person, good), m in zip(todo, matches, strict=True):
                good.embedded = True
                person.embeddings += 1
                person.last_embedded_frame = index
                person.scores.append(m)
                person.identity_state = assess(person.scores, self.identifier.threshold_of, self.config)

    def _read_temperatures(self, open_: list[tuple[PersonTrack, object]], frame: Frame) -> None:
        if self.thermal is None:
            return
        need = [p for p, _ in open_ if not self._temperature_done(p)
                and p.face is not None and p.face.quality is not None and p.face.quality.ok]
        if not need:
            return
        with self.clock.stage("thermal_sensor"):  # the sensor's frame (simulated or captured), not ours
            thermal = self.thermal.thermal_frame(frame)
        with self.clock.stage("thermal"):
            for person in need:
                # the sensor runs slower than the camera (Lepton 8.7 Hz): its latest frame read again
                # on the next camera frame would be the same evidence counted twice
                if thermal is not None and thermal.timestamp == person.last_thermal_t:
                    continue
                if thermal is not None and thermal.timestamp != person.last_liveness_t:
                    person.liveness.append(self.thermal.liveness(frame, person.face, thermal))
                    person.last_liveness_t = thermal.timestamp
                reading = self.thermal.read(frame, person.face, thermal)
                person.last_reading = reading
                if is_valid(reading):
                    person.readings.append(reading)
                    person.last_thermal_t = thermal.timestamp if thermal is not None else None

    def _temperature_done(self, person: PersonTrack) -> bool:
        """Enough temperature evidence: none is possible (no sensor) or `temperature_readings` from
        distinct sensor frames. One reading is not enough: the readings of one walk-up spread by up
        to 0.6 °C (bench/thermal_walkup_bench.py on the simulated walk-ups: the first reading off the
        true core temperature by up to 0.53 °C, the median of three by up to 0.47, of ten by 0.35),
        and a fever near the line must not be decided on one sensor frame's noise."""
        return self.thermal is None or len(person.readings) >= self.config.temperature_readings

    def _ready(self, person: PersonTrack, frame: Frame) -> str | None:
        if person.first_good_frame is None and frame.timestamp - person.first_t < self.config.timeout_s:
            return None
        identity_done = person.identity_state in ("match", "unknown")
        temperature_done = self._temperature_done(person)
        if identity_done and temperature_done:
            return "evidence"
        if frame.timestamp - person.first_t >= self.config.timeout_s:
            return "timeout"
        return None

    def _decide(self, person: PersonTrack, frame: Frame, trigger: str) -> TrackDecision | None:
        if person.decision is not None or not person.scores:
            return None  # never showed a usable face: nothing to decide on
        best = self.identifier.best_of(person.scores)
        resident = self.identifier.resident(best)
        if person.identity_state == "unknown":
            resident = None
        # a resident's mask: the kind of template that named them; unknown for strangers, whose
        # best row says little (plain strangers' best rows were masked ones in masked_bench)
        mask = best.masked if resident is not None else None
        temps = [r.celsius for r in person.readings]
        statuses = [TemperatureStatus(r.status) for r in person.readings]
        at = self.start + timedelta(seconds=frame.timestamp)
        liveness = None if self.thermal is None else track_liveness(person.liveness)
        verdict = self.decider.decide(resident, best.score if best else None, temps, statuses, at,
                                      liveness=liveness, mask=mask)
        now = time.perf_counter()
        reasons = tuple(str(r) for r in verdict.reasons)
        if trigger == "timeout" and "timeout" not in reasons:
            reasons = (*reasons, "timeout")
        last = person.readings[-1] if person.readings else person.last_reading
        decision = TrackDecision(
            track_id=person.track_id, identity=resident, score=None if best is None else float(best.score),
            decision=str(verdict.decision), reasons=reasons, open_door=bool(verdict.open_door),
            first_frame=person.first_frame, first_good_frame=person.first_good_frame,
            decided_frame=frame.index, latency_ms=1000 * (now - person.first_clock),
            latency_good_ms=None if person.first_good_clock is None else 1000 * (now - person.first_good_clock),
            temperature_c=None if not temps else round(float(median(temps)), 2),
            temperature_status=str(statuses[0]) if statuses else
            (str(last.status) if last is not None else str(TemperatureStatus.UNAVAILABLE)),
            embeddings=person.embeddings, trigger=trigger, box=person.last_box, mask=mask,
            last_seen_frame=person.last_frame if person.last_box is not None else None)
        person.decision = decision
        self.decisions.append(decision)
        if self.on_decision is not None:
            self.on_decision(decision)
        return decision
