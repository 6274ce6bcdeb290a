"""`menwei models …` end to end through the real CLI entry point, and the shipped manifests."""

from __future__ import annotations

import json

import pytest

from edge.modelpack.manifest import FileSource, list_manifests, manifests_dir
from menwei.cli import main

ARCHIVE = "/releases/download/v1/testpack.zip"


@pytest.fixture
def env(tmp_path, monkeypatch, http_files, gen_pack):
    models = tmp_path / "models"
    gen_pack.write(models)
    monkeypatch.setenv("MENWEI_MODELS_DIR", str(models))
    monkeypatch.setenv("MENWEI_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("MENWEI_MODELS_MIRROR", http_files.base)
    return tmp_path


def test_cli_fetch_then_verify_and_list(env, capsys):
    assert main(["models", "fetch", "testpack", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert sorted(out["installed"]) == ["det.onnx", "direct.onnx", "emb.onnx"]
    assert main(["models", "verify", "testpack", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["ok"] is True
    assert main(["models", "list", "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)["packs"]}
    assert rows["testpack"]["installed"] is True


def test_cli_fetch_with_progress_bar(env, capsys):
    assert main(["models", "fetch", "testpack"]) == 0
    cap = capsys.readouterr()
    assert "pack testpack: ready" in cap.out
    assert "testpack.zip" in cap.err  # the progress bar's line for the archive


def test_cli_errors_are_one_line_with_exit_2(env, capsys, http_files):
    assert main(["models", "fetch", "no-such-pack"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("menwei: error: unknown model pack 'no-such-pack'") and "\n" not in err
    http_files.faults[ARCHIVE] = ["404", 1]
    assert main(["models", "fetch", "testpack", "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert "HTTP 404" in err and "\n" not in err


def test_shipped_manifests():
    packs = {m.name: m for m in list_manifests(manifests_dir())}
    assert {"dlib-resnet", "buffalo_sc", "buffalo_s", "buffalo_l", "yunet-sface"} <= set(packs)
    for name in ("buffalo_sc", "buffalo_s", "buffalo_l"):
        m = packs[name]
        assert m.licence.commercial_use is False and m.licence.accept_required is True
        assert (m.detector, m.embedder, m.embedding_dim) == ("scrfd", "arcface", 512)
        zips = [f for f in m.files if f.role == "archive"]
        assert len(zips) == 1 and zips[0].url.startswith("https://github.com/deepinsight/insightface/releases/")
        for role in ("detector", "embedder"):
            f = m.file(role)
            assert f.archive == zips[0].name and f.member
    ys = packs["yunet-sface"]
    assert ys.licence.commercial_use is True and not ys.licence.accept_required
    assert abs(ys.threshold - 0.363) < 1e-9
    for m in packs.values():
        for f in m.files:
            if f.source is FileSource.URL:
                # every fetched file is pinned: fetch never needs --trust-unpinned for the shipped packs
                assert f.size and f.sha256, (m.name, f.name)


def test_list_flags_non_commercial_packs(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("MENWEI_CACHE_DIR", str(tmp_path / "cache"))
    assert main(["models", "list", "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)["packs"]}
    assert rows["buffalo_l"]["commercial_use"] is False and rows["buffalo_l"]["installed"] is False
    assert rows["yunet-sface"]["commercial_use"] is True
    assert main(["models", "list"]) == 0
    out = capsys.readouterr().out
    assert "NON-COMMERCIAL" in out and "buffalo_sc" in out
