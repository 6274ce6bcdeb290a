"""`menwei models fetch`: download a pack's files from their official URLs, check them, install them.

Every file goes through `<cache>/<pack>/.partial/` first: downloaded there (resuming with an HTTP
Range request when a previous attempt was cut), checked for size and sha256, members of a
downloaded zip extracted there and checked the same way, and only when every file of the pack has
passed are they moved into place with os.replace (same folder tree, so each move is atomic).
A half-downloaded or wrong file can therefore never be mistaken for an installed one.

Every failure is one MenweiError with a stable code: network_error, http_error, size_mismatch,
checksum_mismatch, disk_full, bad_archive, unpinned_checksum (and unknown_pack from the manifest
loader). MENWEI_MODELS_MIRROR (e.g. ``http://mirror.local:8080``) replaces the scheme and host of
every URL, for gates behind a mirror; the tests point it at a local HTTP server.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import os
import shutil
import sys
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Protocol
from urllib.parse import urlsplit, urlunsplit

import httpx

from edge.modelpack.manifest import FileSource, PackError, PackFile, PackManifest
from edge.modelpack.store import PackStore, sha256_file

MIRROR_ENV = "MENWEI_MODELS_MIRROR"
PARTIAL_DIR = ".partial"
CHUNK = 1 << 16
# Headroom kept free on the disk beyond the bytes we will write: a gate whose disk is filled to the
# last byte by a model download stops logging entries.
DISK_MARGIN = 16 << 20

# Stable error codes (the CLI prints them; scripts key on them).
NETWORK_ERROR = "network_error"
HTTP_ERROR = "http_error"
SIZE_MISMATCH = "size_mismatch"
CHECKSUM_MISMATCH = "checksum_mismatch"
DISK_FULL = "disk_full"
BAD_ARCHIVE = "bad_archive"
UNPINNED = "unpinned_checksum"
BUSY = "fetch_busy"
LOCK_FILE = ".lock"


class FetchError(PackError):
    code = "fetch_error"


class ProgressSink(Protocol):
    def start(self, name: str, total: int | None, completed: int = 0) -> None: ...

    def advance(self, nbytes: int) -> None: ...

    def done(self) -> None: ...


class NullProgress:
    def start(self, name: str, total: int | None, completed: int = 0) -> None:
        pass

    def advance(self, nbytes: int) -> None:
        pass

    def done(self) -> None:
        pass


class RichProgress:
    """A rich progress bar on stderr: bytes, speed, time left. Call close() when finished."""

    def __init__(self):
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )

        self._progress = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
            TimeRemainingColumn(), console=Console(stderr=True),
        )
        self._started = False
        self._task = None

    def start(self, name: str, total: int | None, completed: int = 0) -> None:
        if not self._started:
            self._progress.start()
            self._started = True
        self._task = self._progress.add_task(name, total=total, completed=completed)

    def advance(self, nbytes: int) -> None:
        if self._task is not None:
            self._progress.advance(self._task, nbytes)

    def done(self) -> None:
        if self._task is not None:
            self._progress.stop_task(self._task)
            self._task = None

    def close(self) -> None:
        if self._started:
            self._progress.stop()
            self._started = False


@dataclass
class FetchReport:
    pack: str
    installed: list[str] = field(default_factory=list)  # files moved into place by this run
    up_to_date: list[str] = field(default_factory=list)  # files already installed and verified
    downloaded_bytes: int = 0
    resumed_from: dict[str, int] = field(default_factory=dict)  # file → bytes already on disk

    def as_dict(self) -> dict:
        return self.__dict__.copy()


def resolve_url(url: str, mirror: str | None = None) -> str:
    """The URL to request: the manifest's, with scheme+host (and an optional path prefix) from the mirror."""
    mirror = os.environ.get(MIRROR_ENV) if mirror is None else mirror
    if not mirror:
        return url
    src, dst = urlsplit(url), urlsplit(mirror)
    if not dst.scheme or not dst.netloc:
        raise FetchError(f"{MIRROR_ENV}={mirror!r} is not a URL like http://host:port", code="bad_mirror")
    path = dst.path.rstrip("/") + src.path
    return urlunsplit((dst.scheme, dst.netloc, path, src.query, ""))


def _describe_network_error(exc: Exception, url: str) -> str:
    host = urlsplit(url).netloc
    text = str(exc) or type(exc).__name__
    low = text.lower()
    if "name or service not known" in low or "nodename nor servname" in low or "temporary failure in name" in low:
        return f"cannot resolve {host} (DNS): no network? ({text})"
    if "refused" in low:
        return f"connection to {host} refused ({text})"
    if isinstance(exc, httpx.TimeoutException):
        return f"timed out talking to {host}"
    return f"cannot reach {host}: {text}"


def _free_bytes(path: Path) -> int:
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    return shutil.disk_usage(probe).free


class Fetcher:
    def __init__(self, store: PackStore | None = None, *, progress: ProgressSink | None = None,
                 trust_unpinned: bool = False, keep_archive: bool = False, timeout: float = 30.0,
                 mirror: str | None = None):
        self.store = store or PackStore()
        self.progress = progress or NullProgress()
        self.trust_unpinned = trust_unpinned
        self.keep_archive = keep_archive
        self.timeout = timeout
        self.mirror = mirror

    # -- the whole pack ----------------------------------------------------------------------
    def fetch(self, manifest: PackManifest, *, force: bool = False) -> FetchReport:
        report = FetchReport(manifest.name)
        by_name = {f.name: f for f in manifest.files}
        wanted: list[PackFile] = []
        for f in manifest.files:
            if f.source is not FileSource.URL or f.role == "archive":
                continue
            if not force and self.store.check_file(manifest, f).ok:
                report.up_to_date.append(f.name)
                continue
            wanted.append(f)
        if not wanted:
            return report

        # what has to come over the network: plain files, and the archives holding the members
        downloads: dict[str, PackFile] = {}
        for f in wanted:
            src = by_name.get(f.archive) if f.archive else f
            if src is None:
                raise FetchError(f"pack {manifest.name!r}: {f.name} names archive {f.archive!r}, "
                                 "which the manifest does not list", code="bad_manifest")
            if not src.url:
                raise FetchError(f"pack {manifest.name!r}: {src.name} has no url", code="bad_manifest")
            downloads[src.name] = src
        self._check_pinned(manifest, wanted, downloads)

        partial = self.store.pack_dir(manifest) / PARTIAL_DIR
        self._check_space(manifest, partial, wanted, downloads)
        partial.mkdir(parents=True, exist_ok=True)
        try:
            with _pack_lock(manifest, partial.parent):
                self._fetch_locked(manifest, report, wanted, downloads, partial)
        finally:
            with suppress(OSError):
                partial.rmdir()  # only when empty: a kept partial file is what a retry resumes from
        return report

    def _fetch_locked(self, manifest: PackManifest, report: FetchReport, wanted: list[PackFile],
                      downloads: dict[str, PackFile], partial: Path) -> None:
        with httpx.Client(timeout=self.timeout, follow_redirects=True,
                          headers={"User-Agent": "menwei-models-fetch"}) as client:
            for src in downloads.values():
                self._download(client, manifest, src, partial / src.name, report)

        staged: list[tuple[Path, Path]] = []
        for f in wanted:
            if f.archive:
                out = self._extract(manifest, f, partial / f.archive, partial / f.name)
            else:
                out = partial / f.name
            staged.append((out, self.store.path_of(manifest, f)))

        # every check passed: move into place, then drop what is no longer needed
        for src_path, dst_path in staged:
            dst_path.parent.mkdir(parents=True, exist_ok=True)
            os.replace(src_path, dst_path)
            report.installed.append(dst_path.name)
        if not self.keep_archive:
            for name, src in downloads.items():
                if src.role == "archive":
                    (partial / name).unlink(missing_ok=True)
        else:
            for name, src in downloads.items():
                if src.role == "archive" and (partial / name).exists():
                    os.replace(partial / name, self.store.pack_dir(manifest) / name)

    # -- checks before any byte is fetched -----------------------------------------------------
    def _check_pinned(self, manifest: PackManifest, wanted: list[PackFile], downloads: dict[str, PackFile]):
        if self.trust_unpinned:
            return
        unpinned = [s.name for s in downloads.values() if s.sha256 is None]
        # a member without its own hash is still pinned when the archive that holds it is
        unpinned += [f.name for f in wanted if f.archive and f.sha256 is None
                     and downloads[f.archive].sha256 is None and f.name not in unpinned]
        if unpinned:
            raise FetchError(
                f"pack {manifest.name!r}: no published sha256 for {', '.join(unpinned)}; refusing to install "
                "an unverifiable file (pass --trust-unpinned to accept it on size alone)", code=UNPINNED)

    def _check_space(self, manifest: PackManifest, partial: Path, wanted: list[PackFile],
                     downloads: dict[str, PackFile]):
        need = 0
        for src in downloads.values():
            have = (partial / src.name).stat().st_size if (partial / src.name).is_file() else 0
            need += max(0, (src.size or 0) - have)
        need += sum(f.size or 0 for f in wanted if f.archive)  # extracted copies
        free = _free_bytes(partial)
        if free < need + DISK_MARGIN:
            raise FetchError(
                f"pack {manifest.name!r} needs {_mb(need)} (+{_mb(DISK_MARGIN)} headroom) in {partial.parent}, "
                f"only {_mb(free)} free", code=DISK_FULL)

    # -- one download, resumable ---------------------------------------------------------------
    def _download(self, client: httpx.Client, manifest: PackManifest, f: PackFile, part: Path,
                  report: FetchReport) -> None:
        expected = f.size
        have = part.stat().st_size if part.is_file() else 0
        if expected is not None and have > expected:
            part.unlink()  # longer than the real file: not a prefix of it
            have = 0
        if expected is None or have < expected:
            url = resolve_url(f.url or "", self.mirror)
            got, start = self._stream(client, url, f, part, have)
            if start:
                report.resumed_from[f.name] = start
            report.downloaded_bytes += got
        size = part.stat().st_size
        if expected is not None and size != expected:
            part.unlink(missing_ok=True)
            raise FetchError(f"{f.name}: downloaded {size} bytes, the manifest says {expected}", code=SIZE_MISMATCH)
        if f.sha256 is not None:
            actual = sha256_file(part)
            if actual != f.sha256:
                part.unlink(missing_ok=True)
                raise FetchError(f"{f.name}: sha256 {actual} does not match the pinned {f.sha256} "
                                 "(corrupt or altered download; deleted, run fetch again)", code=CHECKSUM_MISMATCH)

    def _stream(self, client: httpx.Client, url: str, f: PackFile, part: Path, have: int) -> tuple[int, int]:
        """Append the rest of the file to `part`; (bytes received, offset the body started at)."""
        headers = {"Range": f"bytes={have}-"} if have else {}
        got = 0
        try:
            with client.stream("GET", url, headers=headers) as resp:
                if resp.status_code == 416 and have:
                    # our partial file is not a prefix the server recognises: start again from zero
                    resp.close()
                    part.unlink(missing_ok=True)
                    return self._stream(client, url, f, part, 0)
                if resp.status_code >= 400:
                    raise FetchError(f"{f.name}: HTTP {resp.status_code} {resp.reason_phrase} from {url}",
                                     code=HTTP_ERROR)
                if resp.status_code == 206:
                    start, total = _content_range(resp.headers.get("content-range", ""))
                    if start != have:
                        raise FetchError(f"{f.name}: server resumed at byte {start}, asked for {have}",
                                         code=HTTP_ERROR)
                    mode = "ab"
                else:
                    # 200: the server ignored the Range header; the body is the whole file
                    have, mode = 0, "wb"
                    length = resp.headers.get("content-length")
                    total = int(length) if length and length.isdigit() else None
                if total is not None and f.size is not None and total != f.size:
                    part.unlink(missing_ok=True)
                    hint = (" (a Git LFS pointer instead of the file?)" if total < 1024 else "")
                    raise FetchError(f"{f.name}: the server offers {total} bytes, the manifest says {f.size}{hint}",
                                     code=SIZE_MISMATCH)
                self.progress.start(f.name, f.size or total, have)
                with _write_errors(f.name, part), open(part, mode) as out:
                    for chunk in resp.iter_bytes(CHUNK):
                        out.write(chunk)
                        got += len(chunk)
                        self.progress.advance(len(chunk))
                    out.flush()
                    os.fsync(out.fileno())
                self.progress.done()
        except FetchError:
            self.progress.done()
            raise
        except (httpx.TransportError, httpx.TooManyRedirects) as exc:
            self.progress.done()
            kept = part.stat().st_size if part.is_file() else 0
            resume = f"; {kept} bytes kept, run fetch again to resume" if kept else ""
            code = HTTP_ERROR if isinstance(exc, httpx.TooManyRedirects) else NETWORK_ERROR
            raise FetchError(f"{f.name}: {_describe_network_error(exc, url)}{resume}", code=code) from None
        return got, have

    # -- archives ------------------------------------------------------------------------------
    def _extract(self, manifest: PackManifest, f: PackFile, archive: Path, out: Path) -> Path:
        try:
            with zipfile.ZipFile(archive) as zf:
                info = _find_member(zf, f.member or f.name)
                if info is None:
                    raise FetchError(f"{archive.name} has no member {f.member or f.name!r}", code=BAD_ARCHIVE)
                if f.size is not None and info.file_size != f.size:
                    raise FetchError(f"{f.name} in {archive.name}: {info.file_size} bytes, the manifest says "
                                     f"{f.size}", code=SIZE_MISMATCH)
                h = hashlib.sha256()
                tmp = out.with_name(out.name + ".extracting")
                with _write_errors(f.name, tmp), zf.open(info) as src, open(tmp, "wb") as dst:
                    while block := src.read(1 << 20):
                        dst.write(block)
                        h.update(block)
                    dst.flush()
                    os.fsync(dst.fileno())
        except zipfile.BadZipFile as exc:
            archive.unlink(missing_ok=True)
            raise FetchError(f"{archive.name}: not a valid zip ({exc}); deleted, run fetch again",
                             code=BAD_ARCHIVE) from None
        if f.sha256 is not None and h.hexdigest() != f.sha256:
            tmp.unlink(missing_ok=True)
            raise FetchError(f"{f.name} in {archive.name}: sha256 {h.hexdigest()} does not match the pinned "
                             f"{f.sha256}", code=CHECKSUM_MISMATCH)
        os.replace(tmp, out)
        return out


@contextmanager
def _pack_lock(manifest: PackManifest, pack_dir: Path) -> Iterator[None]:
    """One fetch per pack at a time: two would append to the same partial file."""
    with open(pack_dir / LOCK_FILE, "a+") as fh:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise FetchError(f"pack {manifest.name!r} is being fetched by another process", code=BUSY) from None
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def _find_member(zf: zipfile.ZipFile, member: str) -> zipfile.ZipInfo | None:
    """The exact member, else the only file with that base name (zips may nest a folder)."""
    try:
        return zf.getinfo(member)
    except KeyError:
        pass
    base = PurePosixPath(member).name
    hits = [i for i in zf.infolist() if not i.is_dir() and PurePosixPath(i.filename).name == base]
    return hits[0] if len(hits) == 1 else None


def _content_range(value: str) -> tuple[int, int | None]:
    # "bytes 100-199/200"
    try:
        unit, rest = value.split(" ", 1)
        span, total = rest.split("/", 1)
        start = int(span.split("-", 1)[0])
        return start, (None if total.strip() == "*" else int(total))
    except ValueError:
        raise FetchError(f"malformed Content-Range {value!r} from server", code=HTTP_ERROR) from None


@contextmanager
def _write_errors(name: str, path: Path) -> Iterator[None]:
    try:
        yield
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise FetchError(f"{name}: disk full while writing {path} ({exc.strerror}); free space and run "
                             "fetch again to resume", code=DISK_FULL) from None
        raise FetchError(f"{name}: cannot write {path}: {exc.strerror or exc}", code="write_error") from None


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB"


def licence_banner(manifest: PackManifest) -> str | None:
    """The loud notice for packs whose licence forbids commercial use (None for the others)."""
    lic = manifest.licence
    if lic.commercial_use:
        return None
    return (f"!! pack {manifest.name}: licence '{lic.name}' — NOT FOR COMMERCIAL USE. "
            + (lic.notice or "") + (f" ({lic.url})" if lic.url else ""))


def print_licence_banner(manifest: PackManifest, stream=None) -> None:
    text = licence_banner(manifest)
    if text:
        print(text, file=stream or sys.stderr, flush=True)
