"""Fixtures of the capture tests: frames cut from the test photographs and a local MJPEG camera."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from .helpers import PHOTOS, SIZE, MjpegServer


@pytest.fixture(scope="session")
def photo_frames(faces_dir) -> list[np.ndarray]:
    return [cv2.resize(cv2.imread(str(faces_dir / p)), SIZE) for p in PHOTOS]


@pytest.fixture
def mjpeg_server(faces_dir):
    servers: list[MjpegServer] = []

    def make(*args: str, port: int | None = None) -> MjpegServer:
        s = MjpegServer(faces_dir / PHOTOS[0], port, *args).start()
        servers.append(s)
        return s

    yield make
    for s in servers:
        s.kill()
