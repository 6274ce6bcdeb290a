"""Model-pack manifests: what a pack is made of, where each file comes from, and how to trust it.

Manifests live in the repository's models/ folder (one YAML file per pack) and are validated here;
a wrong field is reported by name.
"""

from __future__ import annotations

import os
from enum import StrEnum
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from menwei.errors import MenweiError
from menwei.resources import data_dir


class PackError(MenweiError):
    code = "pack_error"


class FileSource(StrEnum):
    PACKAGE = "package"  # shipped inside an installed PyPI package (nothing to fetch)
    URL = "url"  # fetched from the official URL by `menwei models fetch`
    BUILD = "build"  # produced locally by `menwei models build` from other files of the pack


class PackFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(description="file name inside the pack's cache folder (or the package)")
    role: str = Field(description="detector, landmarks, embedder, embedder_source, archive ...")
    source: FileSource
    package: str | None = Field(default=None, description="PyPI import name, for source=package")
    package_path: str | None = Field(default=None, description="path inside that package")
    url: str | None = None
    member: str | None = Field(default=None, description="path inside the downloaded archive, if any")
    archive: str | None = Field(default=None, description="name of the pack file (an archive) holding it")
    size: int | None = Field(default=None, ge=0, description="bytes; null only for built files")
    sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")
    build: str | None = Field(default=None, description="builder name, for source=build")
    build_from: str = Field(default="embedder_source", description="role of the file a builder reads")
    optional: bool = Field(default=False, description="only needed when asked for (e.g. the int8 variant)")


class Licence(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    url: str | None = None
    commercial_use: bool
    accept_required: bool = Field(
        default=False, description="loader refuses the pack until the user accepts the licence"
    )
    notice: str | None = None


class InputSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    size: tuple[int, int] = Field(description="embedder input width, height")
    color: str = Field(default="rgb", pattern="^(rgb|bgr)$")
    mean: tuple[float, float, float] = (0.0, 0.0, 0.0)
    std: tuple[float, float, float] = (1.0, 1.0, 1.0)
    alignment: str = Field(description="dlib-chip-0.25 | arcface-5pt | sface-5pt")


class DetectorSpec(BaseModel):
    """How the detector network wants its input (packs with a neural detector only)."""

    model_config = ConfigDict(extra="forbid")
    size: tuple[int, int] = Field(
        default=(640, 640), description="letterbox target width, height (a fixed-shape model's own size wins)"
    )
    color: str = Field(default="rgb", pattern="^(rgb|bgr)$")
    mean: float = 0.0
    std: float = 1.0
    score_threshold: float = Field(default=0.5, ge=0.0, le=1.0)
    nms_threshold: float = Field(default=0.4, ge=0.0, le=1.0)
    top_k: int = Field(default=5000, gt=0, description="candidates kept for NMS, best first")

    def with_thresholds(self, score: float | None = None, nms: float | None = None) -> DetectorSpec:
        """This spec with the caller's score/NMS thresholds where given."""
        update = {k: v for k, v in (("score_threshold", score), ("nms_threshold", nms)) if v is not None}
        return self.model_copy(update=update) if update else self


class QualityLimits(BaseModel):
    model_config = ConfigDict(extra="forbid")
    min_face_px: float = Field(default=40.0, description="smallest face (bbox side, pixels) worth embedding")
    min_sharpness: float = Field(default=20.0, description="variance of the Laplacian on the aligned chip")
    max_yaw: float = Field(default=0.45, description="|yaw| from landmarks, as nose offset / eye distance")
    max_roll_deg: float = Field(default=30.0)
    min_brightness: float = Field(default=40.0)
    max_brightness: float = Field(default=220.0)


class PackManifest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    description: str
    detector: str = Field(description="blazeface | dlib-hog | scrfd | yunet")
    landmarks: str = Field(description="dlib-5pt | detector (the detector gives 5 points)")
    landmark_scheme: str = Field(description="dlib5 | arcface5")
    embedder: str = Field(description="dlib-resnet-onnx | arcface | sface")
    embedding_dim: int = Field(gt=0)
    threshold: float = Field(ge=-1.0, le=1.0, description="open-set cosine-similarity threshold")
    threshold_source: str = Field(description="how the threshold was calibrated")
    # masked probes against masked templates (edge/face/masked.py) score differently from plain
    # ones, so they get their own open-set threshold; None: the pack has none, masked rows use
    # `threshold`
    threshold_masked: float | None = Field(default=None, ge=-1.0, le=1.0,
                                           description="open-set threshold when the best row is masked")
    threshold_masked_source: str | None = Field(default=None, description="how threshold_masked was calibrated")

    def threshold_for(self, masked: bool) -> float:
        """The open-set threshold for a best match on a masked or a plain row."""
        return self.threshold_masked if masked and self.threshold_masked is not None else self.threshold
    input: InputSpec
    detector_input: DetectorSpec | None = Field(
        default=None, description="input spec of a neural detector (SCRFD, YuNet)"
    )
    quality: QualityLimits = QualityLimits()
    licence: Licence
    homepage: str | None = None
    files: list[PackFile]

    def file(self, role: str) -> PackFile:
        for f in self.files:
            if f.role == role:
                return f
        raise PackError(f"pack {self.name!r} has no file with role {role!r}", code="pack_incomplete")


def manifests_dir() -> Path:
    """The models/ folder: MENWEI_MODELS_DIR, else this installation's (menwei.resources)."""
    env = os.environ.get("MENWEI_MODELS_DIR")
    if env:
        return Path(env)
    return data_dir("models")


def load_manifest(name: str, directory: Path | None = None) -> PackManifest:
    directory = directory or manifests_dir()
    path = directory / f"{name}.yaml"
    if not path.is_file():
        known = ", ".join(list_pack_names(directory)) or "none"
        raise PackError(f"unknown model pack {name!r} (known: {known})", code="unknown_pack")
    return parse_manifest(path)


def parse_manifest(path: Path) -> PackManifest:
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise PackError(f"{path}: not valid YAML: {exc}", code="bad_manifest") from None
    try:
        return PackManifest.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        raise PackError(f"{path}: field {field!r}: {first['msg']}", code="bad_manifest") from None


def list_pack_names(directory: Path | None = None) -> list[str]:
    directory = directory or manifests_dir()
    return sorted(p.stem for p in directory.glob("*.yaml"))


def list_manifests(directory: Path | None = None) -> list[PackManifest]:
    return [load_manifest(n, directory) for n in list_pack_names(directory)]
