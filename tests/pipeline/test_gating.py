"""BestFrames keeps the k best sightings of one track, each sighting as its own object."""

from __future__ import annotations

import numpy as np

from edge.face.types import Face, Quality
from edge.pipeline.gating import BestFrames, GoodFace


def _good(frame: int, rank: float) -> GoodFace:
    """The same face, box and landmarks every time: what a camera facing a still person gives."""
    face = Face((100, 80, 90, 90), 1.5, np.full((5, 2), 120.0, np.float32), "dlib5", Quality(90, 150, 0.0, 0.0, 120))
    return GoodFace(face, np.zeros((150, 150, 3), np.uint8), frame, rank)


def test_identical_sightings_of_a_still_face_are_all_kept():
    best = BestFrames(k=3)
    goods = [_good(i, 5.0) for i in range(3)]
    # equal boxes, scores and ranks: offering used to compare them by value and raise on the arrays
    assert [best.offer(g) for g in goods] == [True, True, True]
    assert [g.frame_index for g in best.faces] == [0, 1, 2]
    assert not best.offer(_good(3, 5.0))  # no better than the worst kept one: the list is full


def test_keeps_the_k_best_and_says_which_offer_was_kept():
    best = BestFrames(k=2)
    assert best.offer(_good(0, 3.0)) and best.offer(_good(1, 5.0))
    assert best.offer(_good(2, 4.0))  # better than 3.0, which drops out
    assert not best.offer(_good(3, 1.0))
    assert [(g.frame_index, g.rank) for g in best.faces] == [(1, 5.0), (2, 4.0)]


def test_best_unembedded_skips_the_sighting_already_embedded_not_its_twin():
    best = BestFrames(k=2)
    first, twin = _good(0, 5.0), _good(1, 5.0)
    best.offer(first)
    best.offer(twin)
    first.embedded = True
    assert best.best_unembedded() is twin
    twin.embedded = True
    assert best.best_unembedded() is None
