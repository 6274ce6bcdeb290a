"""Embedding and 1:N match, once per track, again only while the identity is uncertain.

All tracks that need an embedding in a frame are embedded in one batch, then searched against the
gallery in one matrix product. `assess` says what the scores so far mean.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from edge.face.engine import FaceEngine
from edge.face.gallery import Gallery, Match
from edge.pipeline.gating import GoodFace
from edge.pipeline.tracking import PersonTrack
from edge.pipeline.types import PipelineConfig

NOBODY = Match(identity="", score=-1.0)  # the best match in an empty gallery


def assess(scores: list[Match], threshold_of: Callable[[Match], float], cfg: PipelineConfig) -> str:
    """"match": a score clearly above its threshold; "unknown": `unknown_votes` embeddings all
    clearly below theirs; otherwise "uncertain" (embed again on a better frame). Each match is held
    to the threshold of its row's kind (a masked template's is stricter)."""
    if not scores:
        return "pending"
    if any(m.score >= threshold_of(m) + cfg.confident_margin for m in scores):
        return "match"
    low = [m for m in scores if m.score < threshold_of(m) - cfg.unknown_margin]
    if len(low) >= cfg.unknown_votes and len(low) == len(scores):
        return "unknown"
    return "uncertain"


def wants_embedding(person: PersonTrack, frame_index: int, cfg: PipelineConfig) -> GoodFace | None:
    """The face to embed for this person now, if any."""
    if person.decision is not None or person.identity_state in ("match", "unknown"):
        return None
    if person.embeddings >= cfg.max_embeddings:
        return None
    if person.embeddings and frame_index - person.last_embedded_frame < cfg.reembed_every:
        return None
    return person.best.best_unembedded()


class Identifier:
    def __init__(self, engine: FaceEngine, gallery: Gallery):
        if gallery.pack != engine.pack:
            from edge.face.errors import FaceError

            raise FaceError(f"gallery was made with pack {gallery.pack!r}, engine runs {engine.pack!r}",
                            code="pack_mismatch")
        self.engine = engine
        self.gallery = gallery
        self.threshold = engine.threshold

    def embed(self, faces: list[GoodFace]) -> np.ndarray:
        return self.engine.runtime.embedder.embed(np.stack([g.chip for g in faces]))

    def match(self, vectors: np.ndarray) -> list[Match]:
        """The best match of each vector, with the kind of the row it matched (Match.masked)."""
        if len(self.gallery) == 0:
            # a compound with nobody enrolled yet publishes an empty gallery: everyone is a stranger
            # (the loop crashed on it); a score of -1 is below every threshold
            return [NOBODY] * len(vectors)
        return [m[0] for m in self.gallery.search(vectors, k=1)]

    def threshold_of(self, match: Match) -> float:
        return self.engine.threshold_of(match)

    def best_of(self, scores: list[Match]) -> Match | None:
        """The track's strongest match: the furthest above (or least below) its own threshold, so a
        plain-row match is not outranked by a higher masked-row score that its stricter threshold
        refuses."""
        return max(scores, key=lambda m: m.score - self.threshold_of(m), default=None)

    def resident(self, match: Match | None) -> str | None:
        return match.identity if self.engine.accepts(match) else None
