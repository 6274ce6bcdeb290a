"""The threshold is calibrated on photos that no test checks the threshold with."""

from __future__ import annotations

import re
from pathlib import Path

from bench.calibrate_threshold import calibration_photos
from edge.capture.synthetic import RESIDENT_PHOTOS, UNKNOWN_PHOTO

TESTS = Path(__file__).resolve().parents[1]


def _photos_named_in_tests(faces_dir: Path) -> set[Path]:
    """Every photo under faces_dir that a test file names, and the synthetic scenes' walkers."""
    named = {faces_dir / p for p in [*RESIDENT_PHOTOS.values(), UNKNOWN_PHOTO[0]]}
    for src in TESTS.rglob("*.py"):
        for rel in re.findall(r"[\"'/]?((?:insightface|misc|knn_examples/test|calibration)/[\w./-]+\.(?:jpe?g|png))",
                              src.read_text()):
            named.add(faces_dir / rel)
    return {p.resolve() for p in named}


def test_calibration_photos_are_disjoint_from_the_photos_the_tests_check(faces_dir):
    people, strangers = calibration_photos()
    used = {p.resolve() for _, p in people} | {p.resolve() for p in strangers}
    checked = _photos_named_in_tests(faces_dir)
    # the tests' unknown people and probes are really there to be found...
    assert (faces_dir / "insightface/Tom_Hanks_54745.png").resolve() in checked
    assert (faces_dir / "insightface/t1.jpg").resolve() in checked
    assert (faces_dir / "knn_examples/test/obama1.jpg").resolve() in checked
    # ...and none of them calibrates the threshold
    assert used and not used & checked
    assert all(p.is_file() for p in used)
    assert {n for n, _ in people} == {"alex_lacamoire", "biden", "kit_harington", "obama", "rose_leslie"}
    assert [p.name for p in strangers] == ["eileen_collins.png"]
