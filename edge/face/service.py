"""Batch operations over image files that the CLI, the demo and tools share.

They return plain dicts in the JSON contract of `menwei face embed|match`; every failure of one
image becomes an `error` entry with a stable code, never an exception.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from edge.face import errors
from edge.face.engine import FaceEngine
from edge.face.errors import FaceError
from edge.face.gallery import Gallery
from edge.face.image_io import iter_image_files, load_image
from edge.face.masked import ENROL_TEXTURES, masked_embeddings


def _no_face_error(path: Path) -> dict:
    return {"code": errors.NO_FACE, "message": f"{path}: no face found"}


def embed_images(engine: FaceEngine, paths: Iterable[Path], *, with_embedding: bool = False,
                 on_item: Callable[[], None] | None = None) -> dict:
    results = []
    for path in paths:
        entry = {"image": str(path), "faces": [], "error": None}
        try:
            faces = engine.analyse(load_image(path))
        except FaceError as exc:
            entry["error"] = exc.as_dict()
            faces = []
        for f in faces:
            d = f.as_dict()
            if with_embedding:
                d["embedding"] = None if f.embedding is None else [round(float(v), 7) for v in f.embedding]
            entry["faces"].append(d)
        if entry["error"] is None:
            if not faces:
                entry["error"] = _no_face_error(path)
            elif all(f.embedding is None for f in faces):
                # faces were found but none is good enough to embed: say why (the largest face's first problem)
                q = faces[0].quality
                entry["error"] = {"code": q.problems[0],
                                  "message": f"{path}: no face good enough to embed ({', '.join(q.problems)})"}
        results.append(entry)
        if on_item:
            on_item()
    return {"pack": engine.pack, "results": results}


def build_folder_gallery(engine: FaceEngine, directory: Path, *,
                         masked_templates: Sequence[str] = ENROL_TEXTURES) -> tuple[Gallery, list[dict]]:
    """Enrol DIR/<identity>/<photo>...; a photo that fails enrolment is reported, the rest kept.

    Each photo gives its plain template and one masked template per texture in masked_templates
    (edge/face/masked.py; () for plain templates only)."""
    gallery = Gallery(engine.pack, engine.dim)
    problems: list[dict] = []
    if not directory.is_dir():
        raise FaceError(f"{directory}: gallery folder not found", code=errors.EMPTY_GALLERY)
    for person in sorted(p for p in directory.iterdir() if p.is_dir()):
        for photo in iter_image_files(person):
            try:
                image = load_image(photo)
                face = engine.enrol(image, name=str(photo))
            except FaceError as exc:
                problems.append({"image": str(photo), "identity": person.name, "error": exc.as_dict()})
                continue
            gallery.add(person.name, face.embedding)
            for vec in masked_embeddings(engine, image, face, masked_templates):
                gallery.add(person.name, vec, masked=True)
    return gallery, problems


def match_probes(engine: FaceEngine, gallery: Gallery, probes: Iterable[Path], *, threshold: float | None = None,
                 on_item: Callable[[], None] | None = None) -> dict:
    given = None if threshold is None else float(threshold)  # given: one threshold for both kinds
    results = []
    for path in probes:
        entry = {"probe": str(path), "faces": [], "error": None}
        try:
            if len(gallery) == 0:
                raise FaceError("the gallery is empty: no photo in it could be enrolled", code=errors.EMPTY_GALLERY)
            idents = engine.identify(load_image(path), gallery, threshold=given)
            if not idents:
                entry["error"] = _no_face_error(path)
            for ident in idents:
                entry["faces"].append({
                    "bbox": [int(v) for v in ident.face.bbox],
                    "identity": ident.match.identity if ident.match else None,
                    "score": None if ident.best is None else round(float(ident.best.score), 4),
                    "masked": None if ident.best is None else ident.best.masked,
                    "quality_problems": list(ident.face.quality.problems) if ident.face.quality else [],
                })
        except FaceError as exc:
            entry["error"] = exc.as_dict()
        results.append(entry)
        if on_item:
            on_item()
    return {"pack": engine.pack, "threshold": engine.threshold if given is None else given,
            "threshold_masked": engine.threshold_masked if given is None else given, "results": results}

