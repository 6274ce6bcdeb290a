"""Reading images with a clear error for anything that is not a decodable picture."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from edge.face.errors import UNREADABLE_IMAGE, FaceError

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}
MAX_IMAGE_BYTES = 50 * 1024 * 1024
MAX_PIXELS = 60_000_000  # refuse decompression bombs before they reach the detector


def decode_image(data: bytes, name: str = "image") -> np.ndarray:
    """Decode bytes into a BGR uint8 image (EXIF orientation applied)."""
    if not data:
        raise FaceError(f"{name}: empty file", code=UNREADABLE_IMAGE)
    if len(data) > MAX_IMAGE_BYTES:
        raise FaceError(f"{name}: {len(data)} bytes is larger than {MAX_IMAGE_BYTES}", code=UNREADABLE_IMAGE)
    buf = np.frombuffer(data, dtype=np.uint8)
    img = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    if img is None or img.size == 0:
        raise FaceError(f"{name}: not a readable image (corrupt or unsupported format)", code=UNREADABLE_IMAGE)
    if img.shape[0] * img.shape[1] > MAX_PIXELS:
        raise FaceError(f"{name}: {img.shape[1]}x{img.shape[0]} is too many pixels", code=UNREADABLE_IMAGE)
    return img


def load_image(path: str | Path) -> np.ndarray:
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise FaceError(f"{p}: cannot read ({exc.strerror})", code=UNREADABLE_IMAGE) from None
    return decode_image(data, str(p))


def iter_image_files(path: str | Path) -> list[Path]:
    """A file as-is, or every image file below a folder (recursively, sorted)."""
    p = Path(path)
    if p.is_dir():
        return sorted(q for q in p.rglob("*") if q.is_file() and q.suffix.lower() in IMAGE_SUFFIXES)
    return [p]
