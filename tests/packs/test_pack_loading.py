"""Loading the ONNX packs through FaceEngine: the licence gate, the install check, and the whole chain
(detector landmarks → alignment → embedding) on installed test graphs."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
import yaml
from packgraphs import build_embedder, build_scrfd, build_yunet

from edge.face.engine import FaceEngine
from edge.face.errors import FaceError
from edge.modelpack.manifest import PackError
from edge.modelpack.store import PackStore


@pytest.mark.parametrize("pack", ["buffalo_sc", "buffalo_s", "buffalo_l"])
def test_insightface_packs_are_refused_until_the_licence_is_accepted(pack, tmp_path):
    store = PackStore(tmp_path / "cache")
    with pytest.raises(FaceError) as exc:
        FaceEngine.load(pack, store=store)
    assert exc.value.code == "license_not_accepted"
    assert "accept" in exc.value.message
    # accepted, but not fetched: a clear pointer to the fetch command
    with pytest.raises(PackError) as exc2:
        FaceEngine.load(pack, accept_license=True, store=store)
    assert exc2.value.code == "pack_not_installed" and f"menwei models fetch {pack}" in exc2.value.message


def test_yunet_sface_needs_no_acceptance_but_must_be_fetched(tmp_path):
    with pytest.raises(PackError) as exc:
        FaceEngine.load("yunet-sface", store=PackStore(tmp_path / "cache"))
    assert exc.value.code == "pack_not_installed"


def _install(tmp_path, monkeypatch, name: str, manifest: dict, files: dict[str, object]) -> PackStore:
    """Write the manifest to a models dir and the files into the cache, pinned by their real hashes."""
    models, cache = tmp_path / "models", tmp_path / "cache"
    (cache / name).mkdir(parents=True)
    models.mkdir(exist_ok=True)
    entries = []
    for role, src in files.items():
        dst = cache / name / src.name
        dst.write_bytes(src.read_bytes())
        data = dst.read_bytes()
        entries.append({"name": src.name, "role": role, "source": "url", "url": f"https://example.invalid/{src.name}",
                        "size": len(data), "sha256": hashlib.sha256(data).hexdigest()})
    manifest = {**manifest, "name": name, "files": entries}
    (models / f"{name}.yaml").write_text(yaml.safe_dump(manifest, sort_keys=False))
    monkeypatch.setenv("MENWEI_MODELS_DIR", str(models))
    return PackStore(cache)


BASE = {"description": "test", "landmarks": "detector", "landmark_scheme": "arcface5", "threshold": 0.4,
        "threshold_source": "test"}


def test_scrfd_arcface_pack_end_to_end(tmp_path, monkeypatch, capsys):
    det = build_scrfd(tmp_path / "det.onnx", {8: [2, 3, 4, 5], 16: [1, 1, 1, 1], 32: [1, 1, 1, 1]},
                      {s: [1, 1, 3, 1, 2, 2, 1, 3, 3, 3] for s in (8, 16, 32)})
    emb, _ = build_embedder(tmp_path / "emb.onnx", "input.1", "683", 512, "None", 3)
    manifest = {**BASE, "detector": "scrfd", "embedder": "arcface", "embedding_dim": 512,
                "input": {"size": [112, 112], "color": "rgb", "mean": [127.5] * 3, "std": [127.5] * 3,
                          "alignment": "arcface-5pt"},
                "detector_input": {"size": [640, 640], "color": "rgb", "mean": 127.5, "std": 128.0},
                "licence": {"name": "research only", "commercial_use": False, "accept_required": True}}
    store = _install(tmp_path, monkeypatch, "tiny-sc", manifest, {"detector": det, "embedder": emb})
    with pytest.raises(FaceError) as exc:
        FaceEngine.load("tiny-sc", store=store)
    assert exc.value.code == "license_not_accepted"

    engine = FaceEngine.load("tiny-sc", accept_license=True, store=store, threads=1, upsample=1)
    assert "NOT FOR COMMERCIAL USE" in capsys.readouterr().err  # every load says so
    assert engine.dim == 512
    img = np.zeros((480, 640, 3), np.uint8)
    img[200:208, 96:104] = (0, 0, 255)
    (face,) = engine.detect(img)
    assert face.scheme == "arcface5" and face.bbox == (80, 176, 48, 64)
    chip = engine.runtime.embedder.align(img, face.landmarks)
    vec = engine.runtime.embedder.embed(chip[None])
    assert chip.shape == (112, 112, 3) and vec.shape == (1, 512)
    faces = engine.analyse(img)  # quality runs on the RGB chip; a red square is no usable face
    assert faces[0].quality is not None and not faces[0].quality.ok and faces[0].embedding is None


def test_yunet_sface_pack_end_to_end(tmp_path, monkeypatch):
    det = build_yunet(tmp_path / "yunet.onnx", {s: [0.5, 0.5, 1.0, 1.0] for s in (8, 16, 32)},
                      {s: [0.2, 0.3, 0.8, 0.3, 0.5, 0.5, 0.3, 0.8, 0.7, 0.8] for s in (8, 16, 32)})
    emb, _ = build_embedder(tmp_path / "sface.onnx", "data", "fc1", 128, 1, 4)
    manifest = {**BASE, "detector": "yunet", "embedder": "sface", "embedding_dim": 128,
                "input": {"size": [112, 112], "color": "rgb", "alignment": "sface-5pt"},
                "detector_input": {"size": [640, 640], "color": "bgr", "score_threshold": 0.9,
                                   "nms_threshold": 0.3},
                "licence": {"name": "MIT / Apache-2.0", "commercial_use": True}}
    store = _install(tmp_path, monkeypatch, "tiny-ys", manifest, {"detector": det, "embedder": emb})
    engine = FaceEngine.load("tiny-ys", store=store, threads=1)
    img = np.zeros((640, 640, 3), np.uint8)
    img[160:192, 448:480] = (255, 0, 0)  # blue fills stride-32 cell (col 14, row 5)
    (face,) = engine.detect(img)
    # centre ((14 + .5) * 32, (5 + .5) * 32) = (464, 176), size e * 32
    side = np.exp(1.0) * 32
    assert face.bbox == (round(464 - side / 2), round(176 - side / 2), round(side), round(side))
    np.testing.assert_allclose(face.landmarks[2], [464, 176], atol=1e-3)
    vecs = engine.runtime.embedder.embed(np.stack([engine.runtime.embedder.align(img, face.landmarks)] * 2))
    assert vecs.shape == (2, 128)
    np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)


def test_every_shipped_manifest_names_a_family_the_engine_can_build():
    import importlib
    from pathlib import Path

    from edge.face.engine import RUNTIMES

    shipped = {yaml.safe_load(p.read_text())["embedder"]
               for p in (Path(__file__).resolve().parents[2] / "models").glob("*.yaml")}
    assert shipped == {"dlib-resnet-onnx", "arcface", "sface"}  # models/*.yaml as committed
    assert shipped <= set(RUNTIMES)
    for family in shipped:
        assert callable(importlib.import_module(RUNTIMES[family]).build_runtime), family


def test_a_manifest_with_an_unknown_embedder_family_is_refused(tmp_path, monkeypatch):
    det = build_yunet(tmp_path / "yunet.onnx", {s: [0.5, 0.5, 1.0, 1.0] for s in (8, 16, 32)},
                      {s: [0.2, 0.3, 0.8, 0.3, 0.5, 0.5, 0.3, 0.8, 0.7, 0.8] for s in (8, 16, 32)})
    emb, _ = build_embedder(tmp_path / "e.onnx", "data", "fc1", 128, 1, 4)
    manifest = {**BASE, "detector": "yunet", "embedder": "nosuch", "embedding_dim": 128,
                "input": {"size": [112, 112], "color": "rgb", "alignment": "sface-5pt"},
                "licence": {"name": "MIT", "commercial_use": True}}
    store = _install(tmp_path, monkeypatch, "tiny-nosuch", manifest, {"detector": det, "embedder": emb})
    with pytest.raises(FaceError) as exc:
        FaceEngine.load("tiny-nosuch", store=store)
    assert exc.value.code == "bad_manifest" and "'nosuch'" in exc.value.message
