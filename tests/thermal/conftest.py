"""Shared loaders for the thermal tests' reference data."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

DATA = Path(__file__).parent / "data"


def _words(name: str) -> np.ndarray:
    text = (DATA / name).read_text()
    raw = bytes(int(h, 16) for h in re.findall(r"\\x([0-9A-Fa-f]{2})", text))
    return np.frombuffer(raw, dtype=">u2").astype(np.int64)


@pytest.fixture(scope="session")
def mlx_example():
    """Melexis' example data set: EEPROM, two subpage frames (834 words) and expected To."""
    ee = _words("mlx90640_example_eeprom.txt")
    f0 = np.concatenate([_words("mlx90640_example_frame0.txt"), [0x1901, 0]])
    f1 = np.concatenate([_words("mlx90640_example_frame1.txt"), [0x1901, 1]])
    text = (DATA / "mlx90640_example_to.txt").read_text()
    expected = np.array([float(x) for x in re.findall(r"-?\d+\.\d+", text)])
    return ee, f0, f1, expected
