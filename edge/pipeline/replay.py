"""A whole recorded stream through the pipeline as fast as it goes (no broker, no door)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from edge.capture.source import FrameSource
from edge.pipeline.loop import GatePipeline
from edge.pipeline.types import PipelineStats, TrackDecision


@dataclass
class ReplayResult:
    frames: int  # frames processed
    corrupt: int  # frames the source skipped as undecodable
    wall_s: float  # processing time (reading and decoding included)
    decisions: list[TrackDecision]
    stats: PipelineStats

    @property
    def fps(self) -> float:
        return self.frames / self.wall_s if self.wall_s > 0 else 0.0

    def latency(self, q: float, from_good: bool = False) -> float | None:
        vals = [d.latency_good_ms if from_good else d.latency_ms for d in self.decisions]
        vals = [v for v in vals if v is not None]
        return float(np.percentile(vals, q)) if vals else None

    def as_json(self) -> dict:
        """The `menwei edge replay --json` contract, exactly."""
        p50, p95 = self.latency(50), self.latency(95)
        return {"frames": self.frames, "fps": round(self.fps, 2),
                "decisions": [d.as_json() for d in self.decisions],
                "latency_ms": {"p50": None if p50 is None else round(p50, 2),
                               "p95": None if p95 is None else round(p95, 2)}}


def replay(source: FrameSource, pipeline: GatePipeline, *, on_frame: Callable[[int], None] | None = None,
           max_frames: int | None = None) -> ReplayResult:
    """Open `source`, run every frame through `pipeline`, decide the rest at the end."""
    source.open()
    try:
        t0 = time.perf_counter()
        frames = 0
        while max_frames is None or frames < max_frames:
            with pipeline.clock.stage("read"):
                frame = source.read()
            if frame is None:
                break
            pipeline.process(frame)
            frames += 1
            if on_frame is not None:
                on_frame(frame.index)
        pipeline.finish()
        wall = time.perf_counter() - t0
        return ReplayResult(frames, int(source.corrupt), wall, list(pipeline.decisions), pipeline.stats)
    finally:
        source.close()
