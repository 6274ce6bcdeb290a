"""A track's liveness from its per-sensor-frame results: the median score of the last judged ones.

One frame can mislead (a hand passing, a head turned); the median over the last `last_n` frames
that could be judged decides, with the reasons of the frames that agree with it. No judged frame
(no sensor, the face always too small) is "not checked", never "passed".
"""

from __future__ import annotations

from collections.abc import Sequence
from statistics import median

from edge.policy import Liveness
from edge.thermal.liveness import LivenessResult

LAST_N = 5


def track_liveness(results: Sequence[LivenessResult], last_n: int = LAST_N) -> Liveness:
    judged = [r for r in results if r.live is not None][-last_n:]
    if not judged:
        return Liveness(live=None, reasons=tuple(dict.fromkeys(x for r in results for x in r.reasons)))
    score = float(median(r.score for r in judged))
    live = score >= 0.5
    reasons = tuple(dict.fromkeys(x for r in judged if r.live is live for x in r.reasons))
    return Liveness(live=live, score=score, reasons=reasons)
