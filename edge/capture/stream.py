"""A network camera: RTSP, or HTTP(S) (multipart MJPEG, or any stream FFmpeg reads), through
OpenCV's FFmpeg backend with open and read timeouts so a dead server cannot block forever."""

from __future__ import annotations

import re
import time

import cv2

from edge.capture.source import BAD_SPEC, OPEN_FAILED, STALLED, Frame, FrameSource, SourceError, is_stream_url

DISCONNECTED = "disconnected"  # SourceError code: the server closed the stream or went away


def redact(url: str) -> str:
    """The URL without its password (never log credentials)."""
    return re.sub(r"(://[^:/@]+):[^@/]*@", r"\1:***@", url)


class StreamSource(FrameSource):
    """Frames of a network stream, timestamped with time.monotonic() on arrival."""

    def __init__(self, url: str, *, open_timeout: float = 5.0, read_timeout: float = 5.0):
        if not is_stream_url(url):
            raise SourceError(f"stream {redact(url)!r}: expected rtsp://, http:// or https://", BAD_SPEC)
        if open_timeout <= 0 or read_timeout <= 0:
            raise SourceError("stream: open_timeout and read_timeout must be > 0", BAD_SPEC)
        self.url = url
        self.name = redact(url)
        self.open_timeout, self.read_timeout = open_timeout, read_timeout
        self.fps = None
        self.corrupt = 0
        self._cap: cv2.VideoCapture | None = None
        self._frames = 0

    def open(self) -> None:
        params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, int(self.open_timeout * 1000),
                  cv2.CAP_PROP_READ_TIMEOUT_MSEC, int(self.read_timeout * 1000)]
        cap = cv2.VideoCapture(self.url, cv2.CAP_FFMPEG, params)
        if not cap.isOpened():
            cap.release()
            raise SourceError(f"stream {self.name}: cannot open (server down, wrong path or not a video)",
                              OPEN_FAILED)
        fps = cap.get(cv2.CAP_PROP_FPS)
        self.fps = float(fps) if fps and 0 < fps < 1000 else None
        self._cap, self._frames = cap, 0

    def read(self) -> Frame | None:
        if self._cap is None:
            raise SourceError(f"stream {self.name}: read before open", OPEN_FAILED)
        t0 = time.monotonic()
        ok, img = self._cap.read()
        now = time.monotonic()
        if not ok or img is None or img.size == 0:
            # FFmpeg gives up after read_timeout on a silent server; a closed connection fails at once
            if now - t0 >= 0.9 * self.read_timeout:
                raise SourceError(f"stream {self.name}: no frame for {now - t0:.1f} s", STALLED)
            raise SourceError(f"stream {self.name}: the server ended the stream", DISCONNECTED)
        index = self._frames
        self._frames += 1
        return Frame(img, index, now)

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None

