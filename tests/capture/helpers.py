"""Helpers for the capture tests (real bytes): frames cut from the test photographs, written as a video, a
folder of JPEGs, and served as an MJPEG stream."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np

SIZE = (320, 180)
PHOTOS = ["knn_examples/test/obama1.jpg", "knn_examples/test/alex_lacamoire1.jpg", "misc/two_people.jpg",
          "knn_examples/test/kit_with_rose.jpg", "insightface/t1.jpg"]
SERVER = Path(__file__).with_name("mjpeg_server.py")


def write_video(path: Path, frames: list[np.ndarray], fps: float = 25.0) -> Path:
    out = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, SIZE)
    assert out.isOpened()
    for f in frames:
        out.write(f)
    out.release()
    return path


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 99.0 if mse == 0 else 10 * np.log10(255.0**2 / mse)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class MjpegServer:
    """tests/capture/mjpeg_server.py in its own process, so the test can kill it for real."""

    def __init__(self, photo: Path, port: int | None = None, *args: str):
        self.photo, self.port, self.args = photo, port or free_port(), args
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/video"

    def start(self) -> MjpegServer:
        self.proc = subprocess.Popen([sys.executable, str(SERVER), str(self.port), str(self.photo), *self.args],
                                     stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout.readline().strip() == "ready"
        return self

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)


def wait_until(pred, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.01)
    return False
