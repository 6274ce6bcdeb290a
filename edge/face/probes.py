"""Detection probes: the hand-checked faces of the test photos, plain and with painted masks, and
how a detector's boxes are scored against them. Shared by bench/detector_bench.py and the tests,
so the figures the docs quote and the behaviour the tests assert come from the same probes.

Ground truth is tests/data/faces/face_boxes.json (boxes proposed by a third detector, dlib's CNN,
and checked by eye), never the output of a detector under comparison. The masks are painted from
dlib's 5 landmarks on those hand-checked boxes (edge/face/mask_paint.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from edge.face.mask_paint import TEXTURES, load_texture, paint_mask
from edge.face.packs.base import Detection
from edge.vision.boxes import iou

Box = tuple[int, int, int, int]
FOUND_IOU = 0.5  # a detection this close to a hand-checked box found that face
FALSE_IOU = 0.2  # a detection overlapping no hand-checked box even this much is a false detection
# faces at least this wide are counted apart: a face at the gate, about 1 m from the camera, is
# 160 px wide or more in a 1280x720 frame (docs/ARCHITECTURE.md), most of the probes' faces less
GATE_FACE_PX = 140


@dataclass
class Probe:
    name: str  # photo path relative to the faces folder, plus the mask colour
    image: np.ndarray = field(repr=False)
    boxes: list[Box]
    masked: str | None = None  # texture colour, None for the plain photo


def hand_checked(faces_dir: Path) -> dict[str, list[Box]]:
    data = json.loads((Path(faces_dir) / "face_boxes.json").read_text())
    out: dict[str, list[Box]] = {}
    for f in data["faces"]:
        out.setdefault(f["photo"], []).append(tuple(f["box"]))
    return out


def plain_probes(faces_dir: Path) -> list[Probe]:
    return [Probe(photo, _read(faces_dir / photo), boxes) for photo, boxes in sorted(hand_checked(faces_dir).items())]


def masked_probes(faces_dir: Path, landmarker, textures: tuple[str, ...] = TEXTURES) -> list[Probe]:
    """Every hand-checked photo once per mask texture, every face in it masked."""
    out = []
    for probe in plain_probes(faces_dir):
        marks = [landmarker.landmarks(probe.image, Detection(b, 1.0)) for b in probe.boxes]
        for colour in textures:
            tex = load_texture(Path(faces_dir) / "insightface", colour)
            img = probe.image
            for box, lm in zip(probe.boxes, marks, strict=True):
                img = paint_mask(img, box, lm, tex)
            out.append(Probe(f"{probe.name}+mask_{colour}", img, probe.boxes, colour))
    return out


def as_frame(image: np.ndarray, boxes: list[Box], width: int = 1280, height: int = 720) -> tuple[np.ndarray, list[Box]]:
    """The photo fitted into a width x height frame (centred on black), boxes moved with it."""
    s = min(width / image.shape[1], height / image.shape[0])
    nw, nh = round(image.shape[1] * s), round(image.shape[0] * s)
    px, py = (width - nw) // 2, (height - nh) // 2
    frame = np.zeros((height, width, 3), np.uint8)
    frame[py : py + nh, px : px + nw] = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_AREA)
    moved = [(round(x * s) + px, round(y * s) + py, round(w * s), round(h * s)) for x, y, w, h in boxes]
    return frame, moved


@dataclass
class Score:
    faces: int = 0
    found: int = 0
    false: int = 0
    ious: list[float] = field(default_factory=list)
    extra: int = 0  # detections beyond one per hand-checked face: duplicates and false ones
    large_faces: int = 0  # faces at least GATE_FACE_PX wide
    large_found: int = 0

    def add(self, detections: list[Detection], boxes: list[Box]) -> None:
        got = [d.bbox for d in detections]
        self.faces += len(boxes)
        for b in boxes:
            best = max((iou(b, g) for g in got), default=0.0)
            large = b[2] >= GATE_FACE_PX
            self.large_faces += large
            if best >= FOUND_IOU:
                self.found += 1
                self.large_found += large
                self.ious.append(best)
        self.false += sum(1 for g in got if max((iou(g, b) for b in boxes), default=0.0) < FALSE_IOU)
        self.extra += max(0, len(got) - len(boxes))

    @property
    def rate(self) -> float:
        return self.found / self.faces if self.faces else 0.0

    def as_dict(self) -> dict:
        return {"faces": self.faces, "found": self.found, "rate": round(self.rate, 4), "false": self.false,
                "extra": self.extra,
                "faces_140px": self.large_faces, "found_140px": self.large_found,
                "mean_iou": round(float(np.mean(self.ious)), 3) if self.ious else None}


def score(detector, probes: list[Probe]) -> Score:
    s = Score()
    for p in probes:
        s.add(detector.detect(p.image), p.boxes)
    return s


def _read(path: Path) -> np.ndarray:
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise FileNotFoundError(path)
    return img
