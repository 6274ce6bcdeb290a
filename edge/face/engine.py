"""The face engine: one object the gate loop, the server's enrolment and the CLI all use.

detect → 5 landmarks → align → quality → embed (batched) → match against a Gallery.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from edge.face import errors
from edge.face.errors import FaceError
from edge.face.gallery import Gallery, Match
from edge.face.packs.base import PackRuntime
from edge.face.quality import measure
from edge.face.types import Face
from edge.modelpack.manifest import PackManifest, load_manifest
from edge.modelpack.store import PackStore

DEFAULT_PACK = "dlib-resnet"


@dataclass(frozen=True)
class Identification:
    face: Face
    match: Match | None  # best match, or None when no face quality / below threshold
    best: Match | None  # best candidate even when below threshold (for review)


class FaceEngine:
    def __init__(self, manifest: PackManifest, runtime: PackRuntime, paths: dict | None = None):
        self.manifest = manifest
        self.runtime = runtime
        self.runtime_paths = dict(paths or {})  # file paths by role, for tools (benchmarks, converters)
        self.threshold = manifest.threshold
        self.threshold_masked = manifest.threshold_for(masked=True)
        self.limits = manifest.quality

    @property
    def pack(self) -> str:
        return self.manifest.name

    @property
    def dim(self) -> int:
        return self.runtime.embedder.dim

    @classmethod
    def load(cls, pack: str = DEFAULT_PACK, *, accept_license: bool = False, store: PackStore | None = None,
             precision: str = "fp32", **options) -> FaceEngine:
        """Load a pack by name; builds the default pack's ONNX network on first use.

        precision: "fp32", or "int8" for packs that ship a quantised variant (built on first use).
        options go to the pack's runtime builder (e.g. upsample=, max_side=, threads=, native=).
        """
        manifest = load_manifest(pack)
        if manifest.licence.accept_required and not accept_license:
            raise FaceError(
                f"pack {pack!r} is licensed '{manifest.licence.name}' (commercial use: "
                f"{'yes' if manifest.licence.commercial_use else 'NO'}); accept it explicitly "
                "(--accept-license, or accept_license: true in the config) to load it",
                code=errors.LICENSE_NOT_ACCEPTED,
            )
        store = store or PackStore()
        optional = set()
        if precision == "int8":
            if not any(f.role == "embedder_int8" for f in manifest.files):
                raise FaceError(f"pack {pack!r} has no int8 variant", code="bad_option")
            optional.add("embedder_int8")
        elif precision != "fp32":
            raise FaceError(f"precision must be fp32 or int8, not {precision!r}", code="bad_option")
        if options.get("native"):  # dlib's own network: nothing to build
            paths = {f.role: store.path_of(manifest, f) for f in manifest.files}
        else:
            paths = store.require(manifest, optional=optional)
        if precision == "int8":
            paths["embedder"] = paths.pop("embedder_int8")
        runtime = _build_runtime(manifest, paths, options)
        return cls(manifest, runtime, paths)

    # -- stages ---------------------------------------------------------------------------------
    def detect(self, image_bgr: np.ndarray) -> list[Face]:
        """Every face with its 5 landmarks, largest first."""
        faces = []
        for det in self.runtime.detector.detect(image_bgr):
            lm = det.landmarks if det.landmarks is not None else self.runtime.landmarker.landmarks(image_bgr, det)
            faces.append(Face(det.bbox, det.score, np.asarray(lm, np.float32), self.runtime.scheme))
        faces.sort(key=lambda f: f.area, reverse=True)
        return faces

    def analyse(self, image_bgr: np.ndarray, faces: Sequence[Face] | None = None, *,
                embed: bool = True) -> list[Face]:
        """Detect (unless faces are given), measure quality, and embed every face that passes it."""
        faces = list(self.detect(image_bgr) if faces is None else faces)
        chips = [self.runtime.embedder.align(image_bgr, f.landmarks) for f in faces]
        good = []
        for f, chip in zip(faces, chips, strict=True):
            f.quality = measure(f, chip, self.limits)
            if f.quality.ok:
                good.append((f, chip))
        if embed and good:
            vectors = self.runtime.embedder.embed(np.stack([c for _, c in good]))
            for (f, _), v in zip(good, vectors, strict=True):
                f.embedding = v
        return faces

    def enrol(self, image_bgr: np.ndarray, name: str = "image") -> Face:
        """The one face of an enrolment photo, embedded; FaceError (with a code) otherwise."""
        faces = self.analyse(image_bgr)
        if not faces:
            raise FaceError(f"{name}: no face found", code=errors.NO_FACE)
        if len(faces) > 1:
            raise FaceError(f"{name}: {len(faces)} faces found; an enrolment photo must show exactly one",
                            code=errors.MULTIPLE_FACES)
        face = faces[0]
        if face.embedding is None:
            problem = face.quality.problems[0] if face.quality and face.quality.problems else "face_error"
            raise FaceError(f"{name}: face not usable for enrolment ({', '.join(face.quality.problems)}; "
                            f"{_describe(face, self)})", code=problem)
        return face

    def threshold_of(self, match: Match) -> float:
        """The open-set threshold a best match must reach: the masked one when its best row is a
        masked template (the probe is then taken to wear a mask), the plain one otherwise."""
        return self.threshold_masked if match.masked else self.threshold

    def accepts(self, match: Match | None, threshold: float | None = None) -> bool:
        if match is None:
            return False
        return match.score >= (self.threshold_of(match) if threshold is None else threshold)

    def identify(self, image_bgr: np.ndarray, gallery: Gallery, threshold: float | None = None,
                 faces: Sequence[Face] | None = None) -> list[Identification]:
        """Every face, largest first, with its identity when the best score reaches the threshold
        (threshold_of the best match; a threshold given here applies to both kinds of row)."""
        if gallery.pack != self.pack:
            raise FaceError(f"gallery was made with pack {gallery.pack!r}, engine runs {self.pack!r}",
                            code="pack_mismatch")
        faces = self.analyse(image_bgr, faces)
        embedded = [f for f in faces if f.embedding is not None]
        best_by_face: dict[int, Match] = {}
        if embedded:
            for f, matches in zip(embedded, gallery.search(np.stack([f.embedding for f in embedded]), k=1),
                                  strict=True):
                best_by_face[id(f)] = matches[0]
        out = []
        for f in faces:
            best = best_by_face.get(id(f))
            out.append(Identification(f, best if self.accepts(best, threshold) else None, best))
        return out


def _describe(face: Face, engine: FaceEngine) -> str:
    q, lim = face.quality, engine.limits
    return (f"face {q.face_px:.0f}px (min {lim.min_face_px:.0f}), sharpness {q.sharpness:.0f} "
            f"(min {lim.min_sharpness:.0f}), yaw {q.yaw:+.2f}, brightness {q.brightness:.0f}")


# The runtime builder of each embedder family a manifest can name (its `embedder` field), as the
# module that defines build_runtime(manifest, paths, **options). Imported on use: each family pulls
# in its own heavy dependencies (dlib, onnxruntime graphs, OpenCV's FaceDetectorYN).
RUNTIMES: dict[str, str] = {
    "dlib-resnet-onnx": "edge.face.packs.dlib_resnet",
    "arcface": "edge.face.packs.insightface",
    "sface": "edge.face.packs.yunet_sface",
}


def _build_runtime(manifest: PackManifest, paths, options) -> PackRuntime:
    module = RUNTIMES.get(manifest.embedder)
    if module is None:
        raise FaceError(f"pack {manifest.name!r}: unknown embedder {manifest.embedder!r} "
                        f"(known: {', '.join(sorted(RUNTIMES))})", code="bad_manifest")
    return importlib.import_module(module).build_runtime(manifest, paths, **options)
