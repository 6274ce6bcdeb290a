"""One face engine per server process, loaded on first use.

Loading builds/reads the ONNX network (seconds, ~100 MB), so the API must not pay it at start-up
(most requests never enrol) nor more than once. Enrolment runs in a worker thread; the lock makes
concurrent first requests wait for one load instead of starting several.
"""

from __future__ import annotations

import io
import struct
import threading
import warnings
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
    crop_jpeg: bytes | None = None  # the face with a margin, small: what a reviewer needs to see
    # (k, d) float32: the face painted with each enrolment mask texture (edge/face/masked.py)
    masked_embeddings: np.ndarray | None = None

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
        from edge.face.masked import masked_embeddings

        try:
            check_image_header(data, name)  # before the engine loads and before any decoding
        except FaceError as exc:
            return EnrolResult(None, exc.code, exc.message)
        engine = self.get()
        try:
            image = decode_image(data, name)
            with self._run_lock:
                face = engine.enrol(image, name=name)
                masked = masked_embeddings(engine, image, face)
        except FaceError as exc:
            return EnrolResult(None, exc.code, exc.message)
        return EnrolResult(np.asarray(face.embedding, np.float32),
                           quality=face.quality.as_dict() if face.quality else None,
                           crop_jpeg=face_crop_jpeg(image, face.bbox), masked_embeddings=masked)


def check_image_header(data: bytes, name: str, max_pixels: int | None = None) -> tuple[int, int]:
    """The image's width and height, read from its header only (Pillow's Image.open does not decode
    pixels), or FaceError(unreadable_image). A 400 KB PNG can declare 20000x20000 pixels: decoding
    it first costs seconds and gigabytes before any pixel check; this costs microseconds."""
    from PIL import Image, UnidentifiedImageError

    from edge.face.errors import UNREADABLE_IMAGE
    from edge.face.image_io import MAX_PIXELS

    limit = MAX_PIXELS if max_pixels is None else max_pixels
    if not data:
        raise FaceError(f"{name}: empty file", code=UNREADABLE_IMAGE)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as im:
                width, height = im.size
    except Image.DecompressionBombError:  # Pillow's own limit, far above ours: refused the same way
        raise FaceError(f"{name}: too many pixels (more than {limit})", code=UNREADABLE_IMAGE) from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, struct.error):
        raise FaceError(f"{name}: not a readable image (corrupt or unsupported format)",
                        code=UNREADABLE_IMAGE) from None
    if width * height > limit:
        raise FaceError(f"{name}: {width}x{height} is too many pixels (limit {limit})", code=UNREADABLE_IMAGE)
    return width, height


CROP_SIDE = 160  # pixels; enough to recognise a person on screen, far less than the photo


def face_crop_jpeg(image: np.ndarray, bbox: tuple[int, int, int, int], margin: float = 0.25) -> bytes | None:
    """Keep only the face (with a margin), downscaled: data minimisation for stored photos."""
    import cv2

    x, y, w, h = (int(v) for v in bbox)
    mx, my = int(w * margin), int(h * margin)
    x0, y0 = max(0, x - mx), max(0, y - my)
    x1, y1 = min(image.shape[1], x + w + mx), min(image.shape[0], y + h + my)
    if x1 <= x0 or y1 <= y0:
        return None
    crop = image[y0:y1, x0:x1]
    scale = CROP_SIDE / max(crop.shape[:2])
    if scale < 1:
        crop = cv2.resize(crop, (max(1, round(crop.shape[1] * scale)), max(1, round(crop.shape[0] * scale))),
                          interpolation=cv2.INTER_AREA)
    ok, buf = cv2.imencode(".jpg", crop, [cv2.IMWRITE_JPEG_QUALITY, 85])
    return buf.tobytes() if ok else None
