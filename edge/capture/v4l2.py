"""A V4L2 camera (/dev/videoN) through OpenCV's CAP_V4L2 backend, opened in the mode of its
camera profile (fourcc, resolution, fps)."""

from __future__ import annotations

import logging
import re
import time
from pathlib import Path

import cv2

from edge.capture.profiles import DEFAULT_CAMERA, CameraProfile, load_camera_profile
from edge.capture.source import BAD_SPEC, OPEN_FAILED, STALLED, UNPLUGGED, Frame, FrameSource, SourceError

log = logging.getLogger(__name__)

DEVICE_RE = re.compile(r"^/dev/video(\d+)$")
MAX_BAD_READS = 3  # failed reads in a row (device still present) before the camera counts as stalled


def fourcc_code(fourcc: str) -> int:
    """The 32-bit V4L2 pixel format code of a four-character code ("MJPG" → 0x47504a4d)."""
    if len(fourcc) != 4 or not fourcc.isascii():
        raise SourceError(f"fourcc {fourcc!r}: must be four ASCII characters", BAD_SPEC)
    return sum(ord(c) << (8 * i) for i, c in enumerate(fourcc))


def fourcc_text(code: float | int) -> str:
    c = int(code)
    return "".join(chr((c >> (8 * i)) & 0xFF) for i in range(4))


def capture_settings(profile: CameraProfile) -> list[tuple[int, float]]:
    """The OpenCV properties to set, in order: the pixel format first (it decides which sizes and
    rates the driver offers), then the size, the rate and the driver's buffer count."""
    return [
        (cv2.CAP_PROP_FOURCC, float(fourcc_code(profile.fourcc))),
        (cv2.CAP_PROP_FRAME_WIDTH, float(profile.width)),
        (cv2.CAP_PROP_FRAME_HEIGHT, float(profile.height)),
        (cv2.CAP_PROP_FPS, float(profile.fps)),
        (cv2.CAP_PROP_BUFFERSIZE, float(profile.buffer_size)),
    ]


def mode_mismatch(profile: CameraProfile, fourcc: str, width: int, height: int) -> str | None:
    """Why the mode the driver agreed to is not the profile's, or None."""
    problems = []
    if fourcc != profile.fourcc:
        problems.append(f"fourcc {fourcc!r} instead of {profile.fourcc!r}")
    if (width, height) != (profile.width, profile.height):
        problems.append(f"{width}x{height} instead of {profile.width}x{profile.height}")
    return "; ".join(problems) or None


class V4L2Source(FrameSource):
    """Frames of a V4L2 camera, timestamped with time.monotonic() on arrival."""

    def __init__(self, device: str, *, camera: str | CameraProfile | None = None, width: int | None = None,
                 height: int | None = None, fps: float | None = None):
        m = DEVICE_RE.match(device)
        if not m:
            raise SourceError(f"camera {device!r}: expected /dev/videoN", BAD_SPEC)
        self.device = device
        self.name = device
        self.index = int(m.group(1))
        base = camera if isinstance(camera, CameraProfile) else load_camera_profile(camera or DEFAULT_CAMERA)
        self.profile = base.with_overrides(width, height, fps)
        self.fps = self.profile.fps
        self.corrupt = 0
        self._cap: cv2.VideoCapture | None = None
        self._frames = 0

    def open(self) -> None:
        if not Path(self.device).exists():
            raise SourceError(f"camera {self.device}: no such device (unplugged?)", UNPLUGGED)
        cap = cv2.VideoCapture(self.index, cv2.CAP_V4L2)
        if not cap.isOpened():
            cap.release()
            raise SourceError(f"camera {self.device}: cannot open (busy, or not a capture device)", OPEN_FAILED)
        for prop, value in capture_settings(self.profile):
            cap.set(prop, value)
        got = (fourcc_text(cap.get(cv2.CAP_PROP_FOURCC)), int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)),
               int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)))
        why = mode_mismatch(self.profile, *got)
        if why:
            cap.release()
            raise SourceError(f"camera {self.device}: profile {self.profile.name}: the driver offers {why}",
                              OPEN_FAILED)
        self._cap, self._frames = cap, 0

    def read(self) -> Frame | None:
        if self._cap is None:
            raise SourceError(f"camera {self.device}: read before open", OPEN_FAILED)
        for _ in range(MAX_BAD_READS):
            ok, img = self._cap.read()
            index = self._frames
            self._frames += 1
            if ok and img is not None and img.size:
                return Frame(img, index, time.monotonic())
            if not Path(self.device).exists():
                raise SourceError(f"camera {self.device}: device gone (unplugged)", UNPLUGGED)
            self.corrupt += 1  # an MJPEG frame that did not decode, or a short read: try the next
        raise SourceError(f"camera {self.device}: {MAX_BAD_READS} reads in a row gave no frame", STALLED)

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None
