"""One interface for every frame source: V4L2 cameras, RTSP/HTTP streams, video files, folders of
images and synthetic scenes. `open_source(spec)` picks the kind from the spec."""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from menwei.errors import MenweiError

# SourceError codes (stable: the capture watchdog, the CLI and tools key on them)
UNPLUGGED = "unplugged"  # the device vanished or stopped answering
STALLED = "stalled"  # the source is alive but delivers no frame in time
UNREADABLE = "unreadable"  # bytes that are not a picture, a stream that is not a video
OPEN_FAILED = "open_failed"  # the device, file or server could not be opened
NOT_FOUND = "not_found"  # no such device, file or folder
BAD_SPEC = "bad_spec"  # a spec or a parameter that names nothing we can open
BAD_PROFILE = "bad_profile"  # a camera profile that is missing or invalid


@dataclass(frozen=True)
class Frame:
    image: np.ndarray  # BGR uint8 (H, W, 3)
    index: int  # 0-based position in the stream (monotonic, counts skipped frames)
    timestamp: float  # seconds: media time for files/synthetic; time.monotonic() for live


class SourceError(MenweiError):
    """A source that cannot be opened or read; `.code` is one of the constants above."""

    code = "source_error"

    def __init__(self, message: str, code: str = "source_error"):
        super().__init__(message, code)


class FrameSource(ABC):
    """A source of frames. `read()` returns None at the end of a finite source (file, folder,
    synthetic scene) and raises SourceError when a live source fails."""

    name: str = "source"
    fps: float | None = None  # nominal fps (file/camera profile), None if unknown
    corrupt: int = 0  # frames skipped because they could not be decoded

    @abstractmethod
    def open(self) -> None: ...

    @abstractmethod
    def read(self) -> Frame | None: ...

    @abstractmethod
    def close(self) -> None: ...

    def __enter__(self) -> FrameSource:
        self.open()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __iter__(self):
        while (frame := self.read()) is not None:
            yield frame


class Pacer:
    """Releases media-timed frames at their own rate (realtime) or at once (as fast as possible).

    Late frames are not made up for by sleeping less later: the clock restarts from a frame that
    comes out late, as a camera would simply deliver its next frame."""

    def __init__(self, realtime: bool, clock=time.monotonic, sleep=time.sleep):
        self.realtime = realtime
        self._clock, self._sleep = clock, sleep
        self._origin: tuple[float, float] | None = None  # (wall, media) at the reference frame

    def wait(self, media_t: float) -> None:
        if not self.realtime:
            return
        now = self._clock()
        if self._origin is None:
            self._origin = (now, media_t)
            return
        due = self._origin[0] + (media_t - self._origin[1])
        if due > now:
            self._sleep(due - now)
        else:
            self._origin = (now, media_t)

    def reset(self) -> None:
        self._origin = None


def is_stream_url(spec: str) -> bool:
    return spec.split("://", 1)[0].lower() in ("rtsp", "rtsps", "http", "https") and "://" in spec


def open_source(spec: str, *, realtime: bool = False, width: int | None = None, height: int | None = None,
                fps: float | None = None, camera: str | None = None, faces_dir: Path | None = None,
                read_timeout: float = 5.0) -> FrameSource:
    """A (not yet opened) source for `spec`:

    - "/dev/videoN": a V4L2 camera (OpenCV CAP_V4L2, MJPG or YUYV); `camera` names a profile in
      firmware_configs/cameras (default: "generic-uvc-720p"), width/height/fps override it;
    - "rtsp://...", "http(s)://...": a network stream (HTTP multipart MJPEG or anything FFmpeg reads);
    - a video file, or a folder of images (read in sorted order);
    - "synthetic:NAME": a named synthetic scene (see edge.capture.synthetic.named_scene).

    `realtime=True` paces files, folders and synthetic scenes at their own fps; False delivers them
    as fast as they can be read. Live sources always run at their own pace.
    """
    if not isinstance(spec, str) or not spec.strip():
        raise SourceError("source: empty spec (give /dev/videoN, a URL, a file, a folder or synthetic:NAME)",
                          BAD_SPEC)
    spec = spec.strip()
    if spec.startswith("synthetic:"):
        from edge.capture.synthetic import SyntheticSource

        return SyntheticSource.from_spec(spec, realtime=realtime, width=width, height=height, fps=fps,
                                         faces_dir=faces_dir)
    if spec.startswith("/dev/video"):
        from edge.capture.v4l2 import V4L2Source

        return V4L2Source(spec, camera=camera, width=width, height=height, fps=fps)
    if is_stream_url(spec):
        from edge.capture.stream import StreamSource

        return StreamSource(spec, open_timeout=read_timeout, read_timeout=read_timeout)
    if "://" in spec:
        raise SourceError(f"source {spec!r}: unsupported scheme (use rtsp://, http:// or https://)", BAD_SPEC)
    path = Path(spec)
    from edge.capture.files import FolderSource, VideoFileSource

    if path.is_dir():
        return FolderSource(path, realtime=realtime, fps=fps)
    if path.is_file():
        return VideoFileSource(path, realtime=realtime)
    raise SourceError(f"source {spec!r}: no such file, folder or device", NOT_FOUND)
