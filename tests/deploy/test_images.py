"""Dockerfile.arm64 (the gate image) and Dockerfile.server, read as a builder would: no Docker
engine runs here. Their install step is deploy/install-venv (run on x86 by hand; check-arm64 emulate
installs the same pinned wheels on an emulated arm64 Debian); these tests hold the files to what
the image promises."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from edge.agent.config import PageSection

REPO = Path(__file__).resolve().parents[2]
IMAGES = ["Dockerfile.arm64", "Dockerfile.server"]


def instructions(name: str) -> list[tuple[str, str]]:
    text = (REPO / name).read_text().replace("\\\n", " ")
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            op, _, rest = line.partition(" ")
            out.append((op.upper(), rest.strip()))
    return out


def one(name: str, op: str) -> str:
    found = [rest for o, rest in instructions(name) if o == op]
    assert len(found) == 1, f"{name}: {op} {found}"
    return found[0]


@pytest.mark.parametrize("name", IMAGES)
def test_image_is_bookworm_slim_with_its_python_and_no_compiler(name):
    assert one(name, "FROM") == "debian:bookworm-slim"  # bookworm's python3 is 3.11
    apt = " ".join(rest for op, rest in instructions(name) if op == "RUN" and "apt-get install" in rest)
    packages = set(apt.split("--no-install-recommends", 1)[1].split("&&")[0].split())
    assert {"python3", "python3-venv", "ca-certificates"} <= packages
    assert not packages & {"gcc", "g++", "build-essential", "python3-dev"}


@pytest.mark.parametrize("name", IMAGES)
def test_image_installs_through_install_venv_from_pinned_binary_wheels(name):
    runs = [rest for op, rest in instructions(name) if op == "RUN"]
    assert any(r.startswith("/src/deploy/install-venv /opt/menwei /src") for r in runs)
    script = (REPO / "deploy" / "install-venv").read_text()
    assert "--only-binary=:all: --no-binary=face-recognition-models" in script
    assert '-r "$src/deploy/requirements-gate.txt"' in script
    assert "models build dlib-resnet" in script and "models verify dlib-resnet" in script
    assert (REPO / "deploy" / "requirements-gate.txt").is_file()
    env = one(name, "ENV")
    assert "MENWEI_CACHE_DIR=/opt/menwei/models" in env  # where install-venv built the network


@pytest.mark.parametrize("name", IMAGES)
def test_image_runs_as_an_unprivileged_user_with_its_data_in_a_volume(name):
    assert one(name, "USER") == "menwei"
    assert one(name, "VOLUME") == '["/var/lib/menwei"]'
    useradd = next(rest for op, rest in instructions(name) if op == "RUN" and "useradd" in rest)
    assert "--system" in useradd and "--shell /usr/sbin/nologin" in useradd


def test_gate_user_reaches_video_serial_i2c_and_gpio_devices():
    useradd = next(rest for op, rest in instructions("Dockerfile.arm64") if op == "RUN" and "useradd" in rest)
    groups = set(re.search(r"--groups (\S+)", useradd)[1].split(","))
    assert groups == {"video", "dialout", "i2c", "gpio"}


def test_gate_healthcheck_asks_the_status_page_where_it_listens_by_default():
    health = one("Dockerfile.arm64", "HEALTHCHECK")
    assert "/healthz" in health
    port = re.search(r"MENWEI_PAGE_PORT=(\d+)", one("Dockerfile.arm64", "ENV"))[1]
    assert PageSection.model_fields["listen"].default.endswith(f":{port}")
    assert one("Dockerfile.arm64", "EXPOSE") == port


def test_gate_image_runs_the_gate_file_the_install_puts_in_place():
    entry = shlex.split(one("Dockerfile.arm64", "ENTRYPOINT").strip("[]").replace(",", " "))
    cmd = shlex.split(one("Dockerfile.arm64", "CMD").strip("[]").replace(",", " "))
    assert entry + cmd == ["menwei", "edge", "run", "--config", "/etc/menwei/gate.yaml"]


def test_build_context_leaves_out_the_venv_and_the_tests_but_keeps_the_data_folders():
    ignored = {line.strip() for line in (REPO / ".dockerignore").read_text().splitlines()
               if line.strip() and not line.startswith("#")}
    assert {".git", ".venv", "tests"} <= ignored
    assert not ignored & {"models", "firmware_configs", "deploy", "menwei", "edge", "server"}
