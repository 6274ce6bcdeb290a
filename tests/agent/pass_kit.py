"""A person-less gate scene in which a visitor holds a phone showing a pass's QR code up to the
camera, written as a real video file (MJPG in .avi), and the pass tokens the tests sign."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path

import cv2
import numpy as np

from edge.capture.source import Frame
from edge.capture.synthetic import draw_phone
from menwei.passes import VisitorPass

SIZE = (960, 540)  # w, h


def a_pass(site: str, gates: tuple[str, ...] = (), host: str = "host-1", *, valid_from: datetime | None = None,
           valid_until: datetime | None = None, pass_id: uuid.UUID | None = None) -> VisitorPass:
    now = int(datetime.now(UTC).timestamp())
    return VisitorPass(p=pass_id or uuid.uuid4(), s=site, g=gates, h=host,
                       nb=int(valid_from.timestamp()) if valid_from else now - 3600,
                       na=int(valid_until.timestamp()) if valid_until else now + 3600)


def _background(rng: np.random.Generator) -> np.ndarray:
    """An empty gateway: a wall, a floor, a door frame; textured so it is not a blank test card."""
    w, h = SIZE
    img = cv2.GaussianBlur(rng.integers(70, 190, (h, w, 3)).astype(np.uint8), (0, 0), 4)
    img[int(h * 0.7):] = (img[int(h * 0.7):] * 0.6).astype(np.uint8)  # floor
    cv2.rectangle(img, (80, 40), (330, int(h * 0.7)), (60, 50, 40), 12)  # door frame
    return img


def phone_frame(background: np.ndarray, token: str, at: tuple[int, int] = (560, 120)) -> np.ndarray:
    """The pass on a phone screen (dark body, white screen, the code), held flat to the camera."""
    img = background.copy()
    draw_phone(img, token, at)
    return img


def write_pass_video(path: Path, shown: dict[str, tuple[float, float]], *, fps: float = 15.0,
                     seconds: float = 6.0, seed: int = 7) -> Path:
    """`shown`: token → (from_s, until_s) when its phone is in view."""
    rng = np.random.default_rng(seed)
    background = _background(rng)
    out = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, SIZE)
    assert out.isOpened(), f"cannot write {path}"
    for i in range(int(seconds * fps)):
        t = i / fps
        token = next((tok for tok, (a, b) in shown.items() if a <= t < b), None)
        img = phone_frame(background, token) if token else background
        noise = rng.integers(-6, 7, img.shape, dtype=np.int16)  # sensor noise: no two frames alike
        out.write(np.clip(img.astype(np.int16) + noise, 0, 255).astype(np.uint8))
    out.release()
    return path


def read_frames(path: Path) -> list[Frame]:
    """Every frame of the file with its media time, as the gate's capture delivers them."""
    cap = cv2.VideoCapture(str(path))
    fps = cap.get(cv2.CAP_PROP_FPS)
    frames = []
    while True:
        ok, img = cap.read()
        if not ok:
            break
        frames.append(Frame(img, len(frames), len(frames) / fps))
    cap.release()
    return frames
