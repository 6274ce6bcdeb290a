"""The compound's gallery on the gate: download what `ctl/gallery` announces, check its sha256,
keep the last good one on disk, hand it to the loop to swap between two frames.

A download that fails, a wrong checksum, a file that is not a gallery or one for another pack is
refused with its reason; the gallery in use (and on disk) stays, so the gate keeps deciding
offline or through a bad publish.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path

import httpx

from edge.face.gallery import Gallery
from menwei.wire import GalleryAnnouncement

log = logging.getLogger(__name__)
MAX_GALLERY_BYTES = 512 * 1024 * 1024  # 500k residents x 128 floats is 256 MB


class GallerySync:
    def __init__(self, cache_dir: Path, pack: str, on_gallery: Callable[[Gallery], None], *,
                 timeout_s: float = 30.0, max_bytes: int = MAX_GALLERY_BYTES):
        self.cache_dir = Path(cache_dir)
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        self.pack = pack
        self.on_gallery = on_gallery
        self.timeout_s = timeout_s
        self.max_bytes = max_bytes
        self.version: int | None = None
        self.sha256: str | None = None
        self.last_error: str | None = None
        self._lock = threading.Lock()

    @property
    def file(self) -> Path:
        return self.cache_dir / "gallery.npz"

    @property
    def meta_file(self) -> Path:
        return self.cache_dir / "gallery.json"

    def load_cached(self) -> Gallery | None:
        """The last good gallery, if one was ever received (checked against its recorded sha256)."""
        try:
            meta = json.loads(self.meta_file.read_text())
            data = self.file.read_bytes()
        except (OSError, ValueError):
            return None
        if hashlib.sha256(data).hexdigest() != meta.get("sha256"):
            log.error("cached gallery %s does not match its checksum; ignored", self.file)
            return None
        try:
            gallery = Gallery.from_bytes(data)
        except ValueError:
            return None
        self.version, self.sha256 = int(meta["version"]), meta["sha256"]
        return gallery

    def apply(self, ann: GalleryAnnouncement) -> bool:
        """Fetch and install `ann` (blocking: call it off the MQTT thread). True if installed."""
        with self._lock:
            if ann.sha256 == self.sha256:
                return False  # the retained announcement again after a reconnect
            try:
                data = self._download(ann.url)
                digest = hashlib.sha256(data).hexdigest()
                if digest != ann.sha256:
                    raise ValueError(f"checksum mismatch (announced {ann.sha256[:12]}…, got {digest[:12]}…)")
                gallery = Gallery.from_bytes(data)
                if gallery.pack != self.pack:
                    raise ValueError(f"gallery for pack {gallery.pack!r}, the gate runs {self.pack!r}")
            except (httpx.HTTPError, ValueError, OSError) as exc:
                self.last_error = f"gallery v{ann.version} refused: {exc}"[:300]
                log.error("%s; keeping v%s", self.last_error, self.version)
                return False
            self._store(data, ann)
            self.version, self.sha256, self.last_error = ann.version, ann.sha256, None
        self.on_gallery(gallery)
        log.info("gallery v%d installed (%d identities)", ann.version, len(gallery))
        return True

    def _download(self, url: str) -> bytes:
        chunks, size = [], 0
        with httpx.stream("GET", url, timeout=self.timeout_s, follow_redirects=False) as r:
            r.raise_for_status()
            for chunk in r.iter_bytes():
                size += len(chunk)
                if size > self.max_bytes:
                    raise ValueError(f"gallery larger than {self.max_bytes} bytes")
                chunks.append(chunk)
        return b"".join(chunks)

    def _store(self, data: bytes, ann: GalleryAnnouncement) -> None:
        """File first, then its meta, each replaced atomically: a power cut leaves the old pair or
        a new file whose checksum the old meta refuses (then no cache, the server resends)."""
        for path, content in ((self.file, data),
                              (self.meta_file, json.dumps({"version": ann.version, "sha256": ann.sha256,
                                                           "count": ann.count}).encode())):
            tmp = path.with_name(path.name + ".tmp")
            with open(tmp, "wb") as fh:
                fh.write(content)
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(tmp, 0o600)
            os.replace(tmp, path)


def cached_version(cache_dir: Path) -> int | None:
    try:
        return int(json.loads((Path(cache_dir) / "gallery.json").read_text())["version"])
    except (OSError, ValueError, KeyError):
        return None
