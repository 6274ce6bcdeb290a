"""Finite sources: a video file (anything OpenCV's FFmpeg reads) and a folder of images."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from edge.capture.source import NOT_FOUND, OPEN_FAILED, UNREADABLE, Frame, FrameSource, Pacer, SourceError

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".ppm", ".pgm"}
DEFAULT_FOLDER_FPS = 25.0
MAX_CORRUPT_RUN = 25  # undecodable frames in a row before a video file counts as ended


def _as_bgr(img: np.ndarray) -> np.ndarray:
    if img.ndim == 2:
        return cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
    if img.shape[2] == 4:
        return cv2.cvtColor(img, cv2.COLOR_BGRA2BGR)
    return img


class VideoFileSource(FrameSource):
    """Frames of a video file with their media time (index / fps). A frame FFmpeg cannot decode
    before the announced end is skipped and counted; its index is still used up."""

    def __init__(self, path: str | Path, *, realtime: bool = False):
        self.path = Path(path)
        self.name = str(self.path)
        self.fps = None
        self.corrupt = 0
        self.frame_count: int | None = None
        self._pacer = Pacer(realtime)
        self._cap: cv2.VideoCapture | None = None
        self._index = 0

    def open(self) -> None:
        if not self.path.is_file():
            raise SourceError(f"{self.name}: no such video file", NOT_FOUND)
        cap = cv2.VideoCapture(str(self.path), cv2.CAP_FFMPEG)
        if not cap.isOpened():
            cap.release()
            raise SourceError(f"{self.name}: not a video OpenCV can read", UNREADABLE)
        fps = cap.get(cv2.CAP_PROP_FPS)
        self.fps = float(fps) if fps and 0 < fps < 1000 else None
        count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        self.frame_count = count if count > 0 else None
        self._cap, self._index, self.corrupt = cap, 0, 0
        self._pacer.reset()

    def read(self) -> Frame | None:
        if self._cap is None:
            raise SourceError(f"{self.name}: read before open", OPEN_FAILED)
        run = 0
        while True:
            ok, img = self._cap.read()
            index = self._index
            if ok and img is not None and img.size:
                self._index += 1
                t = index / self.fps if self.fps else float(index)
                self._pacer.wait(t)
                return Frame(_as_bgr(img), index, t)
            # a failed read before the announced end is a corrupt frame, after it the end
            if self.frame_count is None or index >= self.frame_count or run >= MAX_CORRUPT_RUN:
                return None
            self._index += 1
            self.corrupt += 1
            run += 1

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None


class FolderSource(FrameSource):
    """The images of a folder in sorted name order, at `fps` (default 25) media time. A file that
    does not decode is skipped and counted; its index is still used up."""

    def __init__(self, path: str | Path, *, realtime: bool = False, fps: float | None = None):
        self.path = Path(path)
        self.name = str(self.path)
        if fps is not None and not fps > 0:
            raise SourceError(f"{self.name}: fps must be > 0 (got {fps})", "bad_spec")
        self.fps = fps or DEFAULT_FOLDER_FPS
        self.corrupt = 0
        self._pacer = Pacer(realtime)
        self._files: list[Path] = []
        self._pos = 0

    def open(self) -> None:
        if not self.path.is_dir():
            raise SourceError(f"{self.name}: no such folder", NOT_FOUND)
        self._files = sorted(p for p in self.path.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
        if not self._files:
            raise SourceError(f"{self.name}: no image files ({', '.join(sorted(IMAGE_SUFFIXES))})", UNREADABLE)
        self._pos, self.corrupt = 0, 0
        self._pacer.reset()

    def read(self) -> Frame | None:
        while self._pos < len(self._files):
            index = self._pos
            self._pos += 1
            try:
                data = np.fromfile(self._files[index], dtype=np.uint8)
            except OSError:
                data = None
            img = cv2.imdecode(data, cv2.IMREAD_COLOR) if data is not None and data.size else None
            if img is None or img.size == 0:
                self.corrupt += 1
                continue
            t = index / self.fps
            self._pacer.wait(t)
            return Frame(_as_bgr(img), index, t)
        return None

    def close(self) -> None:
        self._files = []
