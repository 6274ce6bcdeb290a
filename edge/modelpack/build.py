"""Local builders for pack files that are derived from other files (e.g. dlib .dat → ONNX)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from edge.modelpack.manifest import PackError, PackFile, PackManifest


def _build_dlib_resnet_onnx(source: Path, out: Path, progress: Callable[[str], None] | None) -> str:
    from edge.face.dlib_onnx import build_onnx

    return build_onnx(source, out, progress=progress)


BUILDERS: dict[str, Callable[[Path, Path, Callable[[str], None] | None], str]] = {
    "dlib-resnet-onnx": _build_dlib_resnet_onnx,
}


def build_file(store, manifest: PackManifest, f: PackFile, progress: Callable[[str], None] | None = None) -> Path:
    builder = BUILDERS.get(f.build or "")
    if builder is None:
        raise PackError(f"pack {manifest.name!r}: no builder named {f.build!r}", code="bad_manifest")
    source_file = manifest.file("embedder_source")
    source = store.path_of(manifest, source_file)
    check = store.check_file(manifest, source_file)
    if not check.ok:
        raise PackError(f"cannot build {f.name}: source {source_file.name}: {check.problem}", code="pack_not_installed")
    out = store.path_of(manifest, f)
    out.parent.mkdir(parents=True, exist_ok=True)
    digest = builder(source, out, progress)
    sidecar = out.with_name(out.name + ".sha256")
    tmp = sidecar.with_name(sidecar.name + ".tmp")
    tmp.write_text(digest + "\n")
    os.replace(tmp, sidecar)
    return out
