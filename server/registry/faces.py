"""One face engine per server process, loaded on first use.

Loading builds/reads the ONNX network (seconds, ~100 MB), so the API must not pay it at start-up
(most requests never enrol) nor more than once. Enrolment runs in a worker thread; the lock makes
concurrent first requests wait for one load instead of starting several.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from edge.face.errors import FaceError


@dataclass(frozen=True)
class EnrolResult:
    """Either an embedding or a FaceError code + message — never both."""

    embedding: np.ndarray | None
    code: str | None = None
    message: str | None = None
    quality: dict | None = None

    @property
    def ok(self) -> bool:
        return self.embedding is not None


class EngineHolder:
    def __init__(self, pack: str = "dlib-resnet", loader: Callable[[str], object] | None = None):
        self.pack = pack
        self._loader = loader
        self._engine = None
        self._lock = threading.Lock()
        # the ONNX session is thread-safe, but dlib's HOG detector is not documented as such
        self._run_lock = threading.Lock()

    @property
    def loaded(self) -> bool:
        return self._engine is not None

    def get(self):
        if self._engine is None:
            with self._lock:
                if self._engine is None:
                    if self._loader is not None:
                        self._engine = self._loader(self.pack)
                    else:
                        from edge.face.engine import FaceEngine

                        self._engine = FaceEngine.load(self.pack)
        return self._engine

    def set(self, engine) -> None:
        """Share an engine already loaded (tests, or a process that loaded one for another job)."""
        self._engine = engine

    def enrol_bytes(self, data: bytes, name: str) -> EnrolResult:
        from edge.face.image_io import decode_image

        engine = self.get()
        try:
            image = decode_image(data, name)
            with self._run_lock:
                face = engine.enrol(image, name=name)
        except FaceError as exc:
            return EnrolResult(None, exc.code, exc.message)
        return EnrolResult(np.asarray(face.embedding, np.float32),
                           quality=face.quality.as_dict() if face.quality else None)
