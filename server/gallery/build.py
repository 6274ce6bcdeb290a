"""Turning a compound's enrolled embeddings into the gallery file its gates load.

Pure: rows in, bytes + sha256 out (no database, no MQTT), so the file format is tested alone.
The file is edge.face.gallery.Gallery's own format, so a gate loads it with Gallery.from_bytes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from edge.face.gallery import Gallery


@dataclass(frozen=True)
class GalleryEntry:
    """One enrolled photo of one resident, with what a gate needs to decide without the server."""

    resident_id: str
    embedding: np.ndarray  # (d,) float32
    status: str
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    display: dict = field(default_factory=dict)  # e.g. {"name", "household", "unit", "building"}
    schedule: dict | None = None  # weekly access schedule (edge/policy/schedule.py); None = any time
    masked: bool = False  # a masked template (edge/face/masked.py), not the photo's own face


@dataclass(frozen=True)
class BuiltGallery:
    data: bytes
    sha256: str
    count: int  # identities (not rows: a resident may have several photos)
    rows: int


def _iso(v: datetime | None) -> str | None:
    return v.isoformat() if v is not None else None


def build_gallery(pack: str, dim: int, version: int, entries: Iterable[GalleryEntry],
                  revoked_passes: Iterable[str] = ()) -> BuiltGallery:
    # same set of rows → same bytes (and sha256), whatever order the database returned them in
    entries = sorted(entries, key=lambda e: (e.resident_id, e.masked, np.asarray(e.embedding, np.float32).tobytes()))
    ids = [e.resident_id for e in entries]
    matrix = (np.stack([np.asarray(e.embedding, np.float32).reshape(-1) for e in entries])
              if entries else np.zeros((0, dim), np.float32))
    if matrix.shape[1] != dim:
        raise ValueError(f"embeddings have {matrix.shape[1]} dimensions, pack {pack} has {dim}")
    attributes: dict[str, dict] = {}
    for e in entries:
        attributes[e.resident_id] = {
            "status": e.status,
            "valid_from": _iso(e.valid_from),
            "valid_until": _iso(e.valid_until),
            **({"schedule": e.schedule} if e.schedule is not None else {}),  # absent = any time
            **e.display,
        }
    if ids:
        g = Gallery.from_arrays(pack, ids, matrix, version=version, attributes=attributes,
                                masked=[e.masked for e in entries])
    else:
        # Gallery.from_arrays cannot reshape an empty matrix; an empty compound still gets a
        # file (so its gates drop residents who were all removed) that says which dimension it is
        g = Gallery(pack, dim, version)
    g.revoked_passes = frozenset(revoked_passes)
    data = g.to_bytes()
    return BuiltGallery(data, hashlib.sha256(data).hexdigest(), len(attributes), len(ids))
