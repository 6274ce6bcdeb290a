"""Per-stage timing: wall clock, the calling thread's CPU time and the process's CPU time.

Thread CPU time tells what the loop itself spent; process CPU time also counts the inference
library's worker threads (onnxruntime runs the embedding on all cores), so both are kept.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from edge.pipeline.types import StageStats


class StageClock:
    def __init__(self) -> None:
        self.stages: dict[str, StageStats] = {}

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        w, t, p = time.perf_counter(), time.thread_time(), time.process_time()
        try:
            yield
        finally:
            s = self.stages.setdefault(name, StageStats())
            s.calls += 1
            s.wall_s += time.perf_counter() - w
            s.thread_cpu_s += time.thread_time() - t
            s.process_cpu_s += time.process_time() - p
