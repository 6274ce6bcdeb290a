"""Build, store and announce a compound's gallery; republish when the registry changes.

A version is stored (bytes + sha256) before it is announced, so every announced link works.
A rebuild that yields the same content as the latest version makes no new version (only the
announcements are refreshed), so a burst of no-op edits does not churn the gates' downloads.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from menwei.wire import Channel, GalleryAnnouncement
from server.api.broker import BrokerUnavailable, Publisher, publish_channel
from server.db.constraints import Violation, violation_of
from server.db.models import FacePhoto, FaceVariant, GalleryVersion, Gate, Resident, Site, VisitorPass
from server.db.types import utcnow
from server.gallery.build import GalleryEntry, build_gallery
from server.gallery.links import LinkSigner
from server.registry.service import NotFound, placement_of

log = logging.getLogger(__name__)

KEEP_VERSIONS = 3  # older gallery files (embeddings) are deleted: keep only what gates may still fetch


class SiteGone(NotFound):
    """The compound was deleted before (or while) its gallery was built: nothing to publish."""


@dataclass(frozen=True)
class PublishedVersion:
    site_id: str
    pack: str
    version: int
    sha256: str
    count: int
    created: bool  # False: content unchanged, the latest version was re-announced
    announced: int  # gates announced to


def revoked_passes(session: Session, site_id: str) -> list[str]:
    """Passes of the compound revoked before their end: the gates must refuse them offline (an
    expired one they refuse by its own date, so it leaves the list)."""
    rows = session.scalars(select(VisitorPass.id).where(
        VisitorPass.site_id == site_id, VisitorPass.revoked_at.is_not(None), VisitorPass.valid_until > utcnow()))
    return sorted(str(r) for r in rows)


def collect_entries(session: Session, site_id: str, pack: str, *, masked: bool = True) -> list[GalleryEntry]:
    """Every enrolled photo of the compound's residents, whatever their status, and (`masked`) the
    masked templates painted from them.

    Banned and moved-out residents stay in the gallery on purpose: a gate must recognise them to
    refuse them by name rather than treat them as strangers.
    """
    rows = session.execute(
        select(Resident, FacePhoto.embedding, FacePhoto.variant)
        .join(FacePhoto, FacePhoto.resident_id == Resident.id)
        .where(Resident.site_id == site_id, FacePhoto.pack == pack,
               *(() if masked else (FacePhoto.variant == FaceVariant.PLAIN,)))
        .order_by(Resident.id, FacePhoto.id)).all()
    places = placement_of(session, {r.household_id for r, _, _ in rows if r.household_id is not None})
    out = []
    for r, emb, variant in rows:
        display = {"name": r.name, **places.get(r.household_id, {})} if r.household_id else {"name": r.name}
        valid_from, valid_until = r.valid_from, r.valid_until
        if r.status == "quarantine":
            display["quarantine_from"] = r.quarantine_from.isoformat() if r.quarantine_from else None
            display["quarantine_until"] = r.quarantine_until.isoformat() if r.quarantine_until else None
        out.append(GalleryEntry(r.id, np.frombuffer(emb, dtype="<f4"), str(r.status.value), valid_from,
                                valid_until, display, r.schedule, variant == FaceVariant.MASKED))
    return out


class GalleryService:
    def __init__(self, sessions: sessionmaker[Session], publisher: Publisher, signer: LinkSigner, pack: str,
                 dim_of: Callable[[], int], *, masked_templates: bool = True):
        """masked_templates: publish them (off while gates older than them are in service: those
        ignore the row kinds and would hold masked rows to the plain threshold)."""
        self.sessions = sessions
        self.publisher = publisher
        self.signer = signer
        self.pack = pack
        self._dim_of = dim_of
        self.masked_templates = masked_templates
        self._lock = threading.Lock()  # one build at a time per process: versions stay sequential

    def latest(self, session: Session, site_id: str) -> GalleryVersion | None:
        return session.scalar(select(GalleryVersion).where(
            GalleryVersion.site_id == site_id, GalleryVersion.pack == self.pack)
            .order_by(GalleryVersion.version.desc()).limit(1))

    def publish(self, site_id: str, *, force: bool = False) -> PublishedVersion:
        with self._lock:
            for attempt in range(3):
                try:
                    return self._publish_once(site_id, force)
                except IntegrityError as exc:
                    if violation_of(exc) is Violation.FOREIGN_KEY:  # deleted between the check and the insert
                        raise SiteGone(f"site {site_id} was deleted; its gallery is not published") from None
                    if attempt == 2:  # otherwise another process took the same version number
                        raise
        raise AssertionError("unreachable")

    def _publish_once(self, site_id: str, force: bool) -> PublishedVersion:
        with self.sessions() as s, s.begin():
            if s.get(Site, site_id) is None:
                raise SiteGone(f"site {site_id} was deleted; its gallery is not published")
            entries = collect_entries(s, site_id, self.pack, masked=self.masked_templates)
            revoked = revoked_passes(s, site_id)
            prev = self.latest(s, site_id)
            dim = entries[0].embedding.shape[0] if entries else self._dim_of()
            if prev is not None and not force:
                same = build_gallery(self.pack, dim, prev.version, entries, revoked)
                if same.sha256 == prev.sha256:
                    row, created = prev, False
                else:
                    row, created = None, True
            else:
                row, created = None, True
            if created:
                version = (prev.version + 1) if prev is not None else 1
                built = build_gallery(self.pack, dim, version, entries, revoked)
                row = GalleryVersion(site_id=site_id, pack=self.pack, version=version, sha256=built.sha256,
                                     count=built.count, data=built.data)
                s.add(row)
                s.flush()
                self._prune(s, site_id, version)
            info = (row.version, row.sha256, row.count)
            gates = list(s.scalars(select(Gate.id).where(Gate.site_id == site_id, Gate.active.is_(True))))
        announced = self.announce(site_id, gates, *info)
        log.info("gallery %s v%d (%d identities) %s, announced to %d gate(s)", site_id, info[0], info[2],
                 "published" if created else "unchanged", announced)
        return PublishedVersion(site_id, self.pack, info[0], info[1], info[2], created, announced)

    def _prune(self, s: Session, site_id: str, newest: int) -> None:
        s.execute(delete(GalleryVersion).where(GalleryVersion.site_id == site_id,
                                               GalleryVersion.pack == self.pack,
                                               GalleryVersion.version <= newest - KEEP_VERSIONS))

    def announce(self, site_id: str, gate_ids: list[str], version: int, sha256: str, count: int) -> int:
        """Retained ctl/gallery for each gate; returns how many were confirmed by the broker."""
        done = 0
        for gate_id in gate_ids:
            msg = GalleryAnnouncement(version=version, url=self.signer.url(site_id, version, gate_id),
                                      sha256=sha256, count=count, pack=self.pack)
            publish_channel(self.publisher, site_id, gate_id, Channel.GALLERY, msg.model_dump_json().encode())
            done += 1
        return done

    def announce_gate(self, site_id: str, gate_id: str) -> bool:
        """Tell a (new) gate the current version; False when the compound has none yet."""
        with self.sessions() as s:
            row = self.latest(s, site_id)
            if row is None:
                return False
            info = (row.version, row.sha256, row.count)
        self.announce(site_id, [gate_id], *info)
        return True

    def clear_gate(self, site_id: str, gate_id: str) -> None:
        """Remove a deleted gate's retained announcement (an empty retained payload clears it)."""
        publish_channel(self.publisher, site_id, gate_id, Channel.GALLERY, b"")

    def count_versions(self, site_id: str) -> int:
        with self.sessions() as s:
            return s.scalar(select(func.count()).select_from(GalleryVersion)
                            .where(GalleryVersion.site_id == site_id)) or 0


class Republisher:
    """Coalesces "the registry of site X changed" into one rebuild per quiet period, off the request.

    Registry edits arrive in bursts (an office editing ten residents); each would otherwise build
    and announce its own version. A failed publish (broker down) is retried on the next change or
    by flush(); the database stays the source of truth either way.
    """

    def __init__(self, service: GalleryService, debounce_s: float = 1.0):
        self.service = service
        self.debounce_s = debounce_s
        self._dirty: dict[str, float] = {}
        self._cond = threading.Condition()
        self._busy = 0
        self._stop = False
        self._thread = threading.Thread(target=self._run, name="gallery-republisher", daemon=True)
        self._thread.start()

    def mark(self, site_id: str) -> None:
        with self._cond:
            self._dirty.setdefault(site_id, time.monotonic())
            self._cond.notify_all()

    def cancel(self, site_id: str) -> None:
        """Drop a pending rebuild (the compound was deleted: there is nothing left to publish)."""
        with self._cond:
            self._dirty.pop(site_id, None)
            self._cond.notify_all()

    def flush(self, timeout: float = 60.0) -> bool:
        """Publish everything pending now; True when nothing is left."""
        with self._cond:
            for k in self._dirty:
                self._dirty[k] = 0.0
            self._cond.notify_all()
            end = time.monotonic() + timeout
            while (self._dirty or self._busy) and time.monotonic() < end:
                self._cond.wait(0.05)
            return not self._dirty and not self._busy

    def close(self) -> None:
        with self._cond:
            self._stop = True
            self._cond.notify_all()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._stop:
                    now = time.monotonic()
                    due = [k for k, t in self._dirty.items() if now - t >= self.debounce_s]
                    if due:
                        break
                    self._cond.wait(0.1 if self._dirty else 1.0)
                if self._stop:
                    return
                for k in due:
                    self._dirty.pop(k, None)
                self._busy += 1
            try:
                for site_id in due:
                    try:
                        self.service.publish(site_id)
                    except BrokerUnavailable as exc:
                        log.warning("gallery for %s not announced: %s", site_id, exc.message)
                    except SiteGone as exc:  # deleted after the change was marked: nothing to do
                        log.info("%s", exc.message)
                    except Exception:  # keep the thread alive; the next change retries
                        log.exception("gallery publish for %s failed", site_id)
            finally:
                with self._cond:
                    self._busy -= 1
                    self._cond.notify_all()
