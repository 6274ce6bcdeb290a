"""The project installed from its wheel (not editable, as in the gate image) still finds its
model-pack manifests, device profiles and page files, and recognises a face.

The wheel goes into a fresh venv of its own; the dependencies come from the test's own venv
through a .pth line (a plain path: the editable finder that lives there is not activated), so
the only ``menwei`` the child can import is the wheel's. Every command runs outside the source
tree, which is where an editable install would have found its folders.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PHOTO = REPO / "tests" / "data" / "faces" / "knn_examples" / "train" / "alex_lacamoire"


def _run(cmd: list[str], cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    out = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, f"{cmd}: {out.stderr[-2000:]}"
    return out


def _source_copy(dest: Path) -> Path:
    """The files git would commit (tracked or new, not ignored), without the tests: a build in
    the checkout itself would reuse a stale build/ folder and hide a missing data file."""
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                            capture_output=True, text=True, check=True).stdout.splitlines()
    for name in listed:
        if name.startswith(("tests/", "bench/")) or not (REPO / name).is_file():
            continue
        (dest / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, dest / name)
    return dest


@pytest.fixture(scope="module")
def wheel_venv(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("wheel")
    src = _source_copy(tmp / "src")
    _run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", str(src), "-w", str(tmp / "dist")], cwd=tmp)
    wheels = list((tmp / "dist").glob("menwei-*.whl"))
    assert len(wheels) == 1, wheels
    venv = tmp / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], cwd=tmp)
    _run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install", "-q", "--no-deps",
          "--no-index", str(wheels[0])], cwd=tmp)
    site = next((venv / "lib").glob("python3*/site-packages"))
    (site / "zz_test_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return venv


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MENWEI_") or k == "MENWEI_TEST_ALLOW_SKIP"}
    env.pop("PYTHONPATH", None)
    return env


def test_the_child_imports_the_wheel_not_the_source_tree(wheel_venv, tmp_path):
    code = "import menwei, edge, server; print(menwei.__file__); print(edge.__file__); print(server.__file__)"
    out = _run([str(wheel_venv / "bin" / "python"), "-c", code], cwd=tmp_path, env=_env())
    for line in out.stdout.split():
        assert Path(line).is_relative_to(wheel_venv), line


def test_model_pack_manifests_ship_with_the_wheel(wheel_venv, tmp_path):
    out = _run([str(wheel_venv / "bin" / "menwei"), "models", "list", "--json"], cwd=tmp_path, env=_env())
    names = {p["name"] for p in json.loads(out.stdout)["packs"]}
    assert names == {p.stem for p in (REPO / "models").glob("*.yaml")}


def test_device_profiles_ship_with_the_wheel(wheel_venv, tmp_path):
    out = _run([str(wheel_venv / "bin" / "menwei"), "thermal", "profiles", "--json"], cwd=tmp_path, env=_env())
    listed = json.loads(out.stdout)
    names = {p["name"] for p in listed}
    assert names == {p.stem for p in (REPO / "firmware_configs" / "thermal").glob("*.yaml")}
    code = ("from edge.capture.profiles import load_camera_profile as c; from edge.door.profiles import "
            "load_door_profile as d; print(c('generic-uvc-720p').width, d('lcus-1-maglock').channel)")
    out = _run([str(wheel_venv / "bin" / "python"), "-c", code], cwd=tmp_path, env=_env())
    assert out.stdout.split() == ["1280", "1"]


def test_the_gate_page_files_ship_with_the_wheel(wheel_venv, tmp_path):
    code = "from edge.page.app import STATIC; print(sorted(p.name for p in STATIC.iterdir()))"
    out = _run([str(wheel_venv / "bin" / "python"), "-c", code], cwd=tmp_path, env=_env())
    assert out.stdout.strip() == str(sorted(p.name for p in (REPO / "edge" / "page" / "static").iterdir()))


def test_the_installed_wheel_recognises_a_face(wheel_venv, tmp_path):
    photo = sorted(PHOTO.glob("*.jp*g"))[0]
    out = _run([str(wheel_venv / "bin" / "menwei"), "face", "embed", "--json", str(photo)], cwd=tmp_path, env=_env())
    doc = json.loads(out.stdout)
    faces = doc["results"][0]["faces"]
    assert len(faces) == 1 and faces[0]["quality"]["ok"]
