"""The gate loop detects with BlazeFace when the pack does (the default pack), and its detections
carry what the later stages need: dlib-style boxes, the pack's 5 landmarks, BlazeFace's keypoints."""

from __future__ import annotations

from edge.face.engine import FaceEngine
from edge.face.probes import FOUND_IOU, Probe, as_frame, plain_probes
from edge.pipeline.detector import BlazeFaceAdapter, RealtimeAdapter, default_detector
from edge.vision.boxes import iou


def test_the_default_pack_loop_uses_blazeface(engine):
    assert isinstance(default_detector(engine, 1280), BlazeFaceAdapter)


def test_a_hog_pack_keeps_the_realtime_detector(engine):
    hog = FaceEngine.load(detector="hog")
    hog.manifest = hog.manifest.model_copy(update={"detector": "dlib-hog"})
    assert isinstance(default_detector(hog, 1280), RealtimeAdapter)


def test_frame_detections_have_landmarks_and_keypoints(engine, faces_dir):
    adapter = default_detector(engine, 1280)
    probe = next(p for p in plain_probes(faces_dir) if p.name.endswith("obama1.jpg"))
    frame, boxes = as_frame(probe.image, probe.boxes)
    found = adapter.detect(frame, 0)
    assert found.searched is None and len(found.detections) == 1
    det = found.detections[0]
    assert iou(det.bbox, boxes[0]) >= FOUND_IOU
    assert det.landmarks.shape == (5, 2) and det.keypoints.shape == (6, 2)
    x, y, w, h = det.bbox  # the landmarks lie on the face they were found on
    assert ((det.landmarks[:, 0] > x) & (det.landmarks[:, 0] < x + w)).all()
    assert ((det.landmarks[:, 1] > y) & (det.landmarks[:, 1] < y + h)).all()


def test_tiles_find_the_small_faces_of_a_group_photo_in_a_frame(engine, faces_dir):
    probe = next(p for p in plain_probes(faces_dir) if p.name.endswith("t1.jpg"))
    frame = Probe(probe.name, *as_frame(probe.image, probe.boxes))
    plain = BlazeFaceAdapter(engine, tile_every=0).detect(frame.image, 0).detections
    tiled = BlazeFaceAdapter(engine, tile_every=1).detect(frame.image, 0).detections

    def found(dets):
        return sum(max((iou(b, d.bbox) for d in dets), default=0) >= FOUND_IOU for b in frame.boxes)

    assert found(tiled) == len(frame.boxes) and found(tiled) > found(plain)
