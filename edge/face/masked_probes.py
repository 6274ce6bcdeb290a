"""Identification probes with painted masks: a labelled face of a real photo, masked or not, cut
and embedded as the gate would (landmarks found again on the painted image), so the detector
is out of the measurement (bench/detector_bench.py measures it).

Shared by bench/masked_bench.py, bench/calibrate_masked.py and the tests, so the figures the
docs quote and what the tests assert come from the same probes. Identities come from
tests/data/faces/face_boxes.json (labelled, hand-checked boxes) and from the folder names of an
enrolment set, never from the engine's output. The mask is painted from dlib's 5 landmarks on
the plain photo's box, as edge/face/probes.py paints detection probes.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edge.face.gallery import Gallery
from edge.face.image_io import load_image
from edge.face.mask_paint import load_texture, paint_mask
from edge.face.packs.base import Detection
from edge.face.types import Face

Box = tuple[int, int, int, int]


@dataclass
class LabelledFace:
    photo: Path
    box: Box
    identity: str | None  # None: a stranger, in no gallery
    image: np.ndarray = field(repr=False)


def labelled_faces(faces_dir: Path, residents: Sequence[str]) -> list[LabelledFace]:
    """Every hand-checked face of face_boxes.json; labels not in `residents` become strangers."""
    data = json.loads((Path(faces_dir) / "face_boxes.json").read_text())
    images: dict[str, np.ndarray] = {}
    out = []
    for f in data["faces"]:
        img = images.setdefault(f["photo"], load_image(Path(faces_dir) / f["photo"]))
        label = f["label"] if f["label"] in residents else None
        out.append(LabelledFace(Path(faces_dir) / f["photo"], tuple(f["box"]), label, img))
    return out


def detected_faces(engine, photos: Sequence[Path], identity: str | None = None) -> list[LabelledFace]:
    """Faces of photos with no hand-checked box (the aligned Tom Hanks crop, enrolment-set photos):
    each photo's faces as the engine's detector finds them, all labelled `identity`."""
    out = []
    for photo in photos:
        img = load_image(photo)
        out += [LabelledFace(Path(photo), f.bbox, identity, img) for f in engine.detect(img)]
    return out


def probe_face(engine, face: LabelledFace, texture_bgr: np.ndarray | None) -> Face:
    """The face analysed by the engine (quality, embedding), masked with the texture when given."""
    rt = engine.runtime
    img = face.image
    if texture_bgr is not None:
        lm = rt.landmarker.landmarks(img, Detection(face.box, 1.0))
        img = paint_mask(img, face.box, lm, texture_bgr)
    lm = rt.landmarker.landmarks(img, Detection(face.box, 1.0))  # on the painted image, as at the gate
    return engine.analyse(img, [Face(face.box, 1.0, np.asarray(lm, np.float32), rt.scheme)])[0]


def painted_photo(engine, faces: Sequence[LabelledFace], texture_bgr: np.ndarray | None) -> np.ndarray:
    """The photo the faces come from (all from one photo) with every one of them masked, for runs
    through the whole engine, detector included."""
    img = faces[0].image
    if texture_bgr is None:
        return img
    marks = [engine.runtime.landmarker.landmarks(img, Detection(f.box, 1.0)) for f in faces]
    for f, lm in zip(faces, marks, strict=True):
        img = paint_mask(img, f.box, lm, texture_bgr)
    return img


def by_photo(faces: Sequence[LabelledFace]) -> dict[Path, list[LabelledFace]]:
    out: dict[Path, list[LabelledFace]] = {}
    for f in faces:
        out.setdefault(f.photo, []).append(f)
    return out


def textures(faces_dir: Path, colours: Sequence[str]) -> dict[str, np.ndarray]:
    return {c: load_texture(Path(faces_dir) / "insightface", c) for c in colours}


def enrol_folder(engine, folder: Path, masked_templates: Sequence[str]) -> Gallery:
    """Gallery of folder/<identity>/<photo> (edge/face/service.py's enrolment; photos that fail
    it are left out, as there)."""
    from edge.face.service import build_folder_gallery

    gallery, _ = build_folder_gallery(engine, Path(folder), masked_templates=masked_templates)
    return gallery
