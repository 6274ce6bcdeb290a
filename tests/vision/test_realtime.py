"""The gate loop's detector on a synthetic walk-up scene made from the real photographs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edge.capture.synthetic import RESIDENT_PHOTOS, WalkupScene, resident_walkers
from edge.face.engine import FaceEngine
from edge.vision.boxes import iou
from edge.vision.motion import MotionDetector
from edge.vision.realtime import RealtimeConfig, RealtimeDetector
from edge.vision.tracks import Tracker


@pytest.fixture(scope="module")
def engine():
    return FaceEngine.load()


@pytest.fixture(scope="module")
def visitors(faces_dir):
    return resident_walkers(faces_dir)  # face boxes hand-checked (tests/data/faces/face_boxes.json), not HOG's


def run(scene, det):
    results = []
    for fr in scene.frames():
        results.append((fr, det.process(fr.image, fr.index)))
    return results


def test_every_face_above_the_smallest_size_is_found_and_nothing_else(engine, visitors):
    scene = WalkupScene(visitors[:3], approach_s=2.0, gap_s=0.6, seed=1)
    cfg = RealtimeConfig()
    det = RealtimeDetector(engine.runtime.landmarker, cfg)
    min_face = cfg.min_face_px(scene.width)
    assert min_face == 160
    big = found = false_pos = 0
    for fr, res in run(scene, det):
        boxes = [d.bbox for _, d in res.detections]
        for g in fr.faces:
            if g[2] >= min_face * 1.1:  # HOG's window is approximate: allow a margin
                big += 1
                found += any(iou(g, b) > 0.3 for b in boxes)
        false_pos += sum(not any(iou(g, b) > 0.3 for g in fr.faces) for b in boxes)
    assert big > 50
    assert found / big >= 0.95
    assert false_pos == 0


def test_one_track_per_visitor_and_landmarks_on_the_face(engine, visitors):
    scene = WalkupScene(visitors[:2], approach_s=2.0, gap_s=0.8, seed=2)
    det = RealtimeDetector(engine.runtime.landmarker)
    tracks_per_visitor: dict[str, set[int]] = {}
    for fr, res in run(scene, det):
        for track, d in res.detections:
            tracks_per_visitor.setdefault(fr.names[0], set()).add(track.track_id)
            x, y, w, h = d.bbox
            assert d.landmarks.shape == (5, 2)
            assert np.all((d.landmarks[:, 0] > x - 0.2 * w) & (d.landmarks[:, 0] < x + 1.2 * w))
    assert len(tracks_per_visitor) == 2
    assert all(len(ids) == 1 for ids in tracks_per_visitor.values())


def test_an_empty_gate_costs_no_scans(engine, visitors):
    scene = WalkupScene(visitors[:1], approach_s=1.0, gap_s=3.0, seed=3)
    det = RealtimeDetector(engine.runtime.landmarker, RealtimeConfig(rescan_every=1000))
    modes = [res.scanned for fr, res in run(scene, det) if not fr.faces]
    assert modes[0] == "full"  # the first frame is all "motion"
    assert modes[1:].count("idle") == len(modes) - 1


def test_range_mode_finds_faces_the_default_misses(engine, visitors):
    scene = WalkupScene(visitors[:1], approach_s=1.0, gap_s=0.2, face_px=(70, 80), seed=4)
    default = RealtimeDetector(engine.runtime.landmarker)
    ranged_cfg = RealtimeConfig(upsample=1)
    ranged = RealtimeDetector(engine.runtime.landmarker, ranged_cfg)
    assert ranged_cfg.min_face_px(1280) == 80
    hits_default = sum(len(r.detections) for _, r in run(scene, default))
    hits_ranged = sum(len(r.detections) for _, r in run(scene, ranged))
    assert hits_default == 0
    assert hits_ranged >= 0.8 * sum(1 for fr in scene.frames() if fr.faces)


def test_motion_detector_sees_a_new_object_and_ignores_sensor_noise():
    rng = np.random.default_rng(0)
    base = rng.integers(80, 120, (360, 640), dtype=np.uint8)
    md = MotionDetector()
    assert md.update(base) == [(0, 0, 640, 360)]
    for _ in range(5):
        noisy = np.clip(base.astype(int) + rng.normal(0, 3, base.shape), 0, 255).astype(np.uint8)
        assert md.update(noisy) == []
    moved = base.copy()
    moved[100:200, 300:380] = 250
    boxes = md.update(moved)
    assert len(boxes) == 1 and iou(boxes[0], (300, 100, 80, 100)) > 0.4


def test_tracker_keeps_identity_and_drops_lost_tracks():
    tr = Tracker(max_missed=2)
    (t1, _), = tr.update([(100, 100, 50, 50)], 0)
    (t2, _), = tr.update([(105, 102, 50, 50)], 1)
    assert t1.track_id == t2.track_id
    for f in range(2, 5):
        tr.update([], f)
    assert tr.tracks == []
    (t3, _), = tr.update([(105, 102, 50, 50)], 5)
    assert t3.track_id != t1.track_id


def test_scene_ground_truth_is_where_the_face_is(engine, visitors):
    scene = WalkupScene(visitors[:1], approach_s=0.5, gap_s=0.0, seed=5)
    fr = list(scene.frames())[-1]
    faces = engine.detect(fr.image)
    assert faces and iou(faces[0].bbox, fr.faces[0]) > 0.5


def test_scene_needs_visitors():
    with pytest.raises(ValueError):
        WalkupScene([])


def test_visitors_come_from_real_photos(visitors, faces_dir):
    assert [v.label for v in visitors] == sorted(RESIDENT_PHOTOS)
    assert all(Path(v.photo).is_file() and "train" not in Path(v.photo).parts for v in visitors)
