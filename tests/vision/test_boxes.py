"""Box overlap, with the expected values worked out by hand."""

from __future__ import annotations

import pytest

from edge.vision.boxes import iou


@pytest.mark.parametrize(("a", "b", "expected"), [
    ((0, 0, 10, 10), (0, 0, 10, 10), 1.0),  # the same box
    ((0, 0, 10, 10), (5, 0, 10, 10), 50 / 150),  # half of each overlaps: 50 px of 150
    ((0, 0, 10, 10), (2, 2, 4, 4), 16 / 100),  # one inside the other
    ((0, 0, 10, 10), (10, 0, 10, 10), 0.0),  # touching edges share no pixel
    ((0, 0, 10, 10), (50, 50, 5, 5), 0.0),  # far apart
    ((0, 0, 0, 0), (0, 0, 0, 0), 0.0),  # no area at all
])
def test_iou(a, b, expected):
    assert iou(a, b) == pytest.approx(expected)
    assert iou(b, a) == pytest.approx(expected)
