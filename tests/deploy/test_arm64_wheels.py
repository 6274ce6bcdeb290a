"""deploy/check-arm64 wheels against the real index: the gate's pins all have wheels an arm64 box
(Debian bookworm, CPython 3.11) installs, a pin without one fails by name, and the pins still
agree with pyproject. Needs the package index (PyPI); about 15 s."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[2]
CHECK = REPO / "deploy" / "check-arm64"
PINS = REPO / "deploy" / "requirements-gate.txt"


def _check(*args: str) -> subprocess.CompletedProcess:
    # the interpreter running the tests: the script itself needs only the standard library
    return subprocess.run([sys.executable, str(CHECK), "wheels", *args], capture_output=True, text=True,
                          timeout=300)


def _pins() -> dict[str, str]:
    out = {}
    for line in PINS.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, version = line.split("==")
            out[canonicalize_name(name.split("[")[0])] = version
    return out


def test_every_pin_resolves_as_an_aarch64_wheel():
    r = _check("--json")
    assert r.returncode == 0, r.stdout + r.stderr
    res = json.loads(r.stdout)
    assert res["ok"] and res["missing"] == [] and res["unpinned"] == []
    rows = {canonicalize_name(p["name"]): p for p in res["packages"]}
    assert set(rows) == set(_pins())
    for name in ("onnxruntime", "opencv-python-headless", "numpy", "dlib-bin"):
        assert "aarch64" in rows[name]["tag"], rows[name]
        assert rows[name]["version"] == _pins()[name]
    # pure-python packages come as any-platform wheels, which is fine for the box
    assert rows["pyyaml"]["tag"].endswith("aarch64") and rows["rich"]["tag"] == "py3-none-any"


def test_a_pin_without_an_aarch64_wheel_fails_by_name(tmp_path):
    # pywin32 306 ships Windows wheels only (win32, win_amd64, win_arm64) and no sdist
    req = tmp_path / "req.txt"
    req.write_text("six==1.17.0\npywin32==306\n")
    r = _check("-r", str(req))
    assert r.returncode == 1, r.stdout + r.stderr
    assert "MISSING  pywin32==306: no aarch64 wheel and no sdist" in r.stdout.splitlines()
    assert "ok       six==1.17.0  six-1.17.0-py2.py3-none-any.whl" in r.stdout.splitlines()


def test_pins_agree_with_pyproject():
    deps = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    pins = _pins()
    for dep in map(Requirement, deps):
        name = canonicalize_name(dep.name)
        assert name in pins, f"{dep} is not pinned in {PINS.name}"
        assert dep.specifier.contains(pins[name], prereleases=True), f"{name}=={pins[name]} does not satisfy {dep}"
