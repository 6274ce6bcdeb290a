"""Data types at the pipeline's boundaries: what a detector hands the loop, what the loop emits."""

from __future__ import annotations

from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict, Field

from edge.face.packs.base import Detection
from edge.vision.boxes import Box


@dataclass(frozen=True)
class FrameDetections:
    """The faces a detector found in one frame (full-frame pixels, with 5 landmarks each)."""

    detections: list[Detection]
    # regions actually looked at this frame; None = the whole frame. A track outside them is not
    # counted as missed (a detector that skips idle frames must not age out a person standing still)
    searched: list[Box] | None = None
    mode: str = "full"


@dataclass(frozen=True)
class TrackDecision:
    """One decision for one person (track), with the evidence it was made on."""

    track_id: int
    identity: str | None  # gallery identity, None = unknown face
    score: float | None  # best cosine score of the track (also when below the threshold)
    decision: str  # menwei.wire.Decision value
    reasons: tuple[str, ...]  # menwei.wire.Reason values
    open_door: bool
    first_frame: int  # frame index where the face was first detected
    first_good_frame: int | None  # first frame whose face passed the quality gate
    decided_frame: int
    latency_ms: float  # processing time from the start of first_frame to the decision
    latency_good_ms: float | None  # the same from the start of first_good_frame
    temperature_c: float | None
    temperature_status: str
    embeddings: int  # how many times the track was embedded
    trigger: str  # "evidence" | "timeout" | "track_lost" | "end_of_stream"
    box: Box | None = None  # the face box when it was last seen before the decision
    # the frame `box` comes from: a track decided after it was lost (timeout, track_lost) was last
    # seen frames before decided_frame, so whoever checks the box against a scene looks there
    last_seen_frame: int | None = None
    mask: bool | None = None  # wears a mask (the named resident's best row was masked); None = not known

    def as_json(self) -> dict:
        """The `menwei edge replay --json` contract for one decision (exactly these keys)."""
        return {"track_id": self.track_id, "identity": self.identity,
                "score": None if self.score is None else round(self.score, 4),
                "decision": self.decision, "reasons": list(self.reasons), "first_frame": self.first_frame,
                "decided_frame": self.decided_frame, "latency_ms": round(self.latency_ms, 2)}


class PipelineConfig(BaseModel):
    """When the evidence for a track suffices. Scores are cosine similarities against the pack's
    threshold; margins keep one unlucky frame from deciding either way."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    confident_margin: float = Field(0.02, ge=0, le=0.2, description="a match this far above the threshold is final")
    unknown_margin: float = Field(0.02, ge=0, le=0.2, description="a score this far below it counts as a stranger")
    unknown_votes: int = Field(2, ge=1, le=10, description="embeddings below the unknown line before 'unknown'")
    reembed_every: int = Field(2, ge=1, description="frames between embeddings of an uncertain track")
    max_embeddings: int = Field(8, ge=1, le=50, description="embeddings per track at most")
    best_frames: int = Field(3, ge=1, le=20, description="best quality faces kept per track")
    temperature_readings: int = Field(3, ge=1, le=10, description="valid readings needed, each from its own "
                                      "sensor frame (median taken)")
    timeout_s: float = Field(2.0, gt=0, le=30, description="media seconds after first detection before deciding anyway")
    track_max_missed: int = Field(5, ge=0, le=100, description="searched frames a track may miss before it ends")
    reacquire_s: float = Field(1.5, ge=0, le=30, description="a face found again this soon where one was lost is "
                               "the same person")
    direction: str = Field("in", pattern="^(in|out)$")


@dataclass
class StageStats:
    """Totals of one stage over a run: wall time, this thread's CPU time, the process's CPU time."""

    calls: int = 0
    wall_s: float = 0.0
    thread_cpu_s: float = 0.0
    process_cpu_s: float = 0.0

    def as_dict(self, frames: int, run_wall_s: float) -> dict:
        return {"calls": self.calls, "ms_per_frame": round(1000 * self.wall_s / max(frames, 1), 3),
                "ms_per_call": round(1000 * self.wall_s / max(self.calls, 1), 3),
                "cpu_pct_thread": round(100 * self.thread_cpu_s / max(run_wall_s, 1e-9), 1),
                "cpu_pct_process": round(100 * self.process_cpu_s / max(run_wall_s, 1e-9), 1)}


@dataclass
class PipelineStats:
    frames: int = 0
    stages: dict[str, StageStats] = field(default_factory=dict)
    tracks: int = 0
    undecided_tracks: int = 0  # tracks that ended without ever showing a usable face
