"""Fixtures every test folder can use: where the test photographs are (tests/data/faces, in the repository)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _faces_dir() -> Path:
    env = os.environ.get("MENWEI_TESTDATA")
    # the repository carries its own copy (tests/data/, with the licences) so a clone passes anywhere
    base = Path(env) if env else REPO / "tests" / "data"
    return base / "faces"


@pytest.fixture(scope="session")
def faces_dir() -> Path:
    d = _faces_dir()
    if not d.is_dir():
        pytest.fail(f"test photographs not found at {d} (set MENWEI_TESTDATA)")
    return d
