"""District re-match: name an "unknown" face when it belongs to someone registered anywhere.

A gate only carries its own compound's gallery, so a resident of the next compound is "unknown"
there. After the ingest commit, the entry's face crop is embedded with the server's face engine
and searched against every compound's enrolled embeddings. A match at or above the pack's
threshold sets ``entries.resident_id`` with ``matched_by='district_rematch'`` and is noted on the
entry's unknown_person alert (which stays: the gate did not know the person).

Why asynchronous: face inference costs tens of milliseconds, and the ingest transaction must stay
in the low milliseconds to keep up with thousands of events per second. ``rematched_at`` marks
entries looked at, so a restart picks up the ones still pending (``sweep``).
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker, undefer

from server.db.models import Alert, AlertKind, Entry, FacePhoto, FaceVariant, MatchedBy, Resident
from server.db.types import utcnow
from server.reconcile.inline import load_residents
from server.reconcile.rules import cross_compound_violation

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RematchResult:
    entry_id: int
    resident_id: str | None
    score: float | None
    reason: str  # matched, below_threshold, no_face, no_gallery, bad_image, skipped


class Rematcher:
    """A thread that re-matches entries; ``process(entry_id)`` is also callable directly."""

    def __init__(self, session_factory: sessionmaker[Session], *, pack: str = "dlib-resnet", engine=None,
                 engine_loader: Callable[[], object] | None = None, sweep_window: timedelta = timedelta(days=1)):
        self._sessions = session_factory
        self._pack = pack
        self._engine = engine
        self._engine_loader = engine_loader
        self._sweep_window = sweep_window
        self._queue: queue.Queue[int] = queue.Queue()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._gallery = None
        self._gallery_key: tuple | None = None
        self.disabled_reason: str | None = None
        self.done = 0
        self.matched = 0

    # -- lifecycle ------------------------------------------------------------------------------
    def start(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="menwei-rematch", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def submit(self, entry_ids: Iterable[int]) -> None:
        for i in entry_ids:
            self._queue.put(int(i))

    def _run(self) -> None:
        try:
            self.submit(self.sweep())
        except Exception as exc:  # the DB may be briefly away; submitted ids still flow
            log.warning("re-match sweep failed: %s", type(exc).__name__)
        while not self._stop.is_set():
            try:
                entry_id = self._queue.get(timeout=0.2)
            except queue.Empty:
                continue
            if self.disabled_reason is not None:
                continue
            try:
                self.process(entry_id)
            except Exception as exc:  # never let one crop stop the thread; no payload in the log
                log.warning("re-match of entry %d failed: %s: %s", entry_id, type(exc).__name__,
                            str(exc).splitlines()[0][:200] if str(exc) else "")

    def sweep(self) -> list[int]:
        """Entries with an unknown face not looked at yet (recent ones: older ones are history)."""
        since = utcnow() - self._sweep_window
        with self._sessions() as s:
            return list(s.scalars(select(Entry.id).where(
                Entry.resident_id.is_(None), Entry.face_jpeg.is_not(None), Entry.rematched_at.is_(None),
                Entry.captured_at >= since).order_by(Entry.id)))

    # -- work -----------------------------------------------------------------------------------
    def engine(self):
        if self._engine is None:
            try:
                if self._engine_loader is not None:
                    self._engine = self._engine_loader()
                else:
                    from edge.face.engine import FaceEngine

                    self._engine = FaceEngine.load(self._pack)
            except Exception as exc:
                self.disabled_reason = f"face engine unavailable: {type(exc).__name__}: {exc}"[:300]
                log.error("district re-match disabled: %s", self.disabled_reason)
                raise
        return self._engine

    def _district_gallery(self, session: Session, pack: str):
        """Every compound's embeddings for this pack, rebuilt only when enrolments changed."""
        from edge.face.gallery import Gallery

        key = tuple(session.execute(select(func.count(FacePhoto.id), func.max(FacePhoto.id),
                                           func.max(Resident.updated_at))
                                    .join(Resident, Resident.id == FacePhoto.resident_id)
                                    .where(FacePhoto.pack == pack)).one())
        if key != self._gallery_key or self._gallery is None:
            rows = session.execute(select(FacePhoto.resident_id, FacePhoto.embedding, FacePhoto.dim,
                                          FacePhoto.variant)
                                   .where(FacePhoto.pack == pack).order_by(FacePhoto.id)).all()
            if rows:
                matrix = np.stack([np.frombuffer(r.embedding, dtype="<f4", count=r.dim) for r in rows])
                self._gallery = Gallery.from_arrays(pack, [r.resident_id for r in rows], matrix,
                                                    masked=[r.variant == FaceVariant.MASKED for r in rows])
            else:
                self._gallery = None
            self._gallery_key = key
        return self._gallery

    def _embed(self, engine, jpeg: bytes):
        import cv2

        from edge.face.image_io import decode_image

        image = decode_image(jpeg, name="entry face crop")
        # gate crops are tight; detectors need some context and a minimum size around the face
        h, w = image.shape[:2]
        pad = max(h, w) // 3
        image = cv2.copyMakeBorder(image, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
        if max(h, w) < 160:
            image = cv2.resize(image, None, fx=2.0, fy=2.0, interpolation=cv2.INTER_CUBIC)
        for face in engine.analyse(image):
            if face.embedding is not None:
                return face.embedding
        return None

    def process(self, entry_id: int) -> RematchResult:
        engine = self.engine()
        with self._sessions() as session, session.begin():
            entry = session.get(Entry, entry_id, options=[undefer(Entry.face_jpeg)], with_for_update=True)
            if entry is None or entry.resident_id is not None or entry.face_jpeg is None:
                return self._finish(RematchResult(entry_id, None, None, "skipped"))
            entry.rematched_at = utcnow()
            try:
                embedding = self._embed(engine, entry.face_jpeg)
            except Exception as exc:  # FaceError(unreadable_image) and friends
                log.info("entry %d: face crop not usable: %s", entry_id, type(exc).__name__)
                return self._finish(RematchResult(entry_id, None, None, "bad_image"))
            if embedding is None:
                return self._finish(RematchResult(entry_id, None, None, "no_face"))
            gallery = self._district_gallery(session, engine.pack)
            if gallery is None or len(gallery) == 0:
                return self._finish(RematchResult(entry_id, None, None, "no_gallery"))
            best = gallery.search(np.asarray(embedding, np.float32)[None, :], 1)[0][0]
            if not engine.accepts(best):  # a masked row's best match needs the masked threshold
                return self._finish(RematchResult(entry_id, None, float(best.score), "below_threshold"))
            self._apply(session, entry, best.identity, float(best.score))
            self.matched += 1
            return self._finish(RematchResult(entry_id, best.identity, float(best.score), "matched"))

    def _finish(self, result: RematchResult) -> RematchResult:
        self.done += 1
        return result

    @staticmethod
    def _apply(session: Session, entry: Entry, resident_id: str, score: float) -> None:
        r = load_residents(session, {resident_id})[resident_id]
        entry.resident_id = r.id
        entry.matched_by = MatchedBy.DISTRICT_REMATCH
        entry.score = score
        entry.household_id, entry.unit_id = r.household_id, r.unit_id
        note = {"rematched_resident_id": r.id, "rematched_site_id": r.site_id, "rematch_score": round(score, 4)}
        for alert in session.scalars(select(Alert).where(Alert.entry_id == entry.id,
                                                         Alert.kind == AlertKind.UNKNOWN_PERSON)):
            alert.detail = {**(alert.detail or {}), **note}
            alert.resident_id = r.id
        violation = cross_compound_violation(r, entry.site_id, entry.direction, entry.captured_at)
        if violation is None:
            return
        # an alert about her registry status belongs to her own compound's office: the compound
        # whose gate saw her learns who she is only as far as its staff's scope allows (docs/API.md)
        session.add(Alert(kind=AlertKind.STATUS_FORBIDS, entry_id=entry.id, site_id=r.site_id,
                          gate_id=entry.gate_id, resident_id=r.id,
                          detail={"decision": entry.decision, "direction": entry.direction, **violation,
                                  "event_id": str(entry.event_id), "seen_at_site_id": entry.site_id, **note}))
        if r.site_id == entry.site_id:
            entry.has_alert = True
