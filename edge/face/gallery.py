"""A versioned face gallery: identities and their embeddings in one contiguous float32 matrix.

Search is a single matrix product (cosine similarity of L2-normalised vectors) followed by a
partial sort. An identity may hold several rows (several enrolment photos); search reports each
identity once, with its best row, and says whether that row is a masked template (painted at
enrolment, edge/face/masked.py). The same file format is published by the server and loaded by
the gates.

File: an .npz with `matrix`, `ids`, `meta` and, when any row is masked, `kind` (uint8 per row,
an index into KINDS). Files without `kind` (older ones, and plain-only galleries, which stay
byte-identical to before) load as all plain.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge.face.errors import EMPTY_GALLERY, FaceError

FORMAT = "menwei.gallery/1"
KINDS = ("plain", "masked")  # a row's kind is its index here (the file's `kind` array)
PLAIN, MASKED = 0, 1


@dataclass(frozen=True)
class Match:
    identity: str
    score: float  # cosine similarity
    masked: bool = False  # the best row was a masked template: the probe most likely wears a mask


def l2_normalise(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    norm = np.linalg.norm(x, axis=-1, keepdims=True)
    return x / np.maximum(norm, 1e-12)


class Gallery:
    def __init__(self, pack: str, dim: int, version: int = 0):
        self.pack = pack
        self.dim = int(dim)
        self.version = int(version)
        self._buf = np.zeros((0, self.dim), dtype=np.float32)
        self._n = 0
        self._ids: list[str] = []
        self._kinds: list[int] = []  # PLAIN or MASKED per row
        self._id_array: np.ndarray | None = None  # cached for vectorised lookups
        self.attributes: dict[str, dict] = {}
        # visitor passes revoked before their end (menwei/passes.py): the gate refuses them offline
        self.revoked_passes: frozenset[str] = frozenset()

    # -- construction -------------------------------------------------------------------------
    @classmethod
    def from_arrays(cls, pack: str, ids: Sequence[str], matrix: np.ndarray, version: int = 0,
                    attributes: dict[str, dict] | None = None,
                    masked: Sequence[bool] | None = None) -> Gallery:
        """masked: per row, True for a masked template (default: every row plain)."""
        matrix = np.asarray(matrix, dtype=np.float32)
        dim = matrix.shape[-1] if matrix.ndim == 2 else (matrix.size // len(ids) if len(ids) else 0)
        matrix = np.ascontiguousarray(l2_normalise(matrix.reshape(len(ids), dim)))
        g = cls(pack, dim, version)
        g._buf = matrix
        g._n = len(ids)
        g._ids = [str(i) for i in ids]
        g._kinds = [PLAIN] * len(ids) if masked is None else [MASKED if m else PLAIN for m in masked]
        if len(g._kinds) != len(g._ids):
            raise ValueError(f"{len(g._kinds)} row kinds for {len(g._ids)} rows")
        g.attributes = dict(attributes or {})
        return g

    def display_name(self, identity: str | None) -> str | None:
        """The name the server put beside an identity (for the gate's own screen), if any."""
        if identity is None:
            return None
        return self.attributes.get(identity, {}).get("name")

    def __len__(self) -> int:
        return self._n

    @property
    def identities(self) -> list[str]:
        return sorted(set(self._ids))

    @property
    def matrix(self) -> np.ndarray:
        return self._buf[: self._n]

    @property
    def row_ids(self) -> list[str]:
        return list(self._ids)

    @property
    def row_masked(self) -> list[bool]:
        return [k == MASKED for k in self._kinds]

    def add(self, identity: str, embedding: np.ndarray, *, masked: bool = False) -> None:
        vec = l2_normalise(np.asarray(embedding, dtype=np.float32).reshape(-1))
        if vec.shape[0] != self.dim:
            raise ValueError(f"embedding has {vec.shape[0]} dimensions, gallery has {self.dim}")
        if self._n == self._buf.shape[0]:  # grow geometrically so adding stays amortised O(dim)
            grown = np.zeros((max(16, 2 * self._buf.shape[0]), self.dim), dtype=np.float32)
            grown[: self._n] = self._buf[: self._n]
            self._buf = grown
        self._buf[self._n] = vec
        self._n += 1
        self._ids.append(str(identity))
        self._kinds.append(MASKED if masked else PLAIN)
        self._id_array = None
        self.version += 1

    def remove(self, identity: str) -> int:
        keep = [i for i, x in enumerate(self._ids) if x != identity]
        removed = self._n - len(keep)
        if removed:
            self._buf = np.ascontiguousarray(self._buf[keep])
            self._ids = [self._ids[i] for i in keep]
            self._kinds = [self._kinds[i] for i in keep]
            self._n = len(keep)
            self._id_array = None
            self.attributes.pop(identity, None)
            self.version += 1
        return removed

    # -- search ---------------------------------------------------------------------------------
    def scores(self, queries: np.ndarray) -> np.ndarray:
        """Cosine similarity of each query (n, d) against every row: (n, rows)."""
        q = l2_normalise(np.atleast_2d(queries))
        return q @ self.matrix.T

    def search(self, queries: np.ndarray, k: int = 1) -> list[list[Match]]:
        """Top-k identities for each query, best first (each identity at most once, with the kind
        of its best row)."""
        if self._n == 0:
            raise FaceError("the gallery is empty: enrol someone first", code=EMPTY_GALLERY)
        sims = self.scores(queries)
        if self._id_array is None:
            self._id_array = np.asarray(self._ids, dtype=object)
        results = []
        # take a few more rows than k, since one identity may hold several rows
        want = min(self._n, max(k * 4, k + 8))
        for row in sims:
            top = np.argpartition(-row, want - 1)[:want] if want < self._n else np.arange(self._n)
            top = top[np.argsort(-row[top])]
            seen: dict[str, Match] = {}
            for j in top:
                ident = self._id_array[j]
                if ident not in seen:
                    seen[ident] = Match(ident, float(row[j]), self._kinds[j] == MASKED)
                    if len(seen) == k:
                        break
            results.append(list(seen.values()))
        return results

    # -- persistence ------------------------------------------------------------------------------
    def to_bytes(self) -> bytes:
        meta = {"format": FORMAT, "pack": self.pack, "dim": self.dim, "version": self.version,
                "attributes": self.attributes, "revoked_passes": sorted(self.revoked_passes)}
        arrays = {"matrix": self.matrix, "ids": np.asarray(self._ids, dtype=np.str_),
                  "meta": np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)}
        if MASKED in self._kinds:  # absent when all plain: such files stay as they were
            arrays["kind"] = np.asarray(self._kinds, dtype=np.uint8)
        out = io.BytesIO()
        np.savez(out, **arrays)
        return out.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> Gallery:
        try:
            with np.load(io.BytesIO(data), allow_pickle=False) as z:
                meta = json.loads(bytes(z["meta"]).decode())
                matrix, ids = z["matrix"], [str(x) for x in z["ids"]]
                kind = z["kind"] if "kind" in z.files else np.zeros(len(ids), np.uint8)  # older: all plain
        except (ValueError, KeyError, OSError, json.JSONDecodeError) as exc:
            raise ValueError(f"not a menwei gallery file: {exc}") from None
        if meta.get("format") != FORMAT:
            raise ValueError(f"unsupported gallery format {meta.get('format')!r}")
        if kind.shape != (len(ids),) or (kind.size and int(kind.max()) >= len(KINDS)):
            raise ValueError("not a menwei gallery file: bad row kinds")
        g = cls.from_arrays(meta["pack"], ids, matrix, meta["version"], meta.get("attributes"),
                            masked=[int(k) == MASKED for k in kind])
        g.dim = int(meta["dim"])
        g.revoked_passes = frozenset(str(x) for x in meta.get("revoked_passes", ()))  # absent in older files
        return g

    def save(self, path: str | Path) -> None:
        path = Path(path)
        tmp = path.with_name(path.name + ".tmp")
        with open(tmp, "wb") as fh:
            fh.write(self.to_bytes())
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: str | Path) -> Gallery:
        return cls.from_bytes(Path(path).read_bytes())
