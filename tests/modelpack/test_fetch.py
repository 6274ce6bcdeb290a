"""`menwei models fetch` against a local HTTP server: success, resume, and every failure code."""

from __future__ import annotations

import fcntl
import hashlib
import socket
from pathlib import Path

import httpx
import pytest

from edge.modelpack.fetch import (
    LOCK_FILE,
    PARTIAL_DIR,
    Fetcher,
    FetchError,
    _describe_network_error,
    resolve_url,
)
from edge.modelpack.manifest import PackManifest
from edge.modelpack.store import PackStore

ARCHIVE = "/releases/download/v1/testpack.zip"
DIRECT = "/zoo/raw/main/direct.onnx"


def _fetcher(tmp_path: Path, http_files, **kw) -> tuple[Fetcher, PackStore]:
    store = PackStore(tmp_path / "cache")
    return Fetcher(store, mirror=http_files.base, timeout=10, **kw), store


def _manifest(gen_pack) -> PackManifest:
    return PackManifest.model_validate(gen_pack.manifest)


def _installed(store: PackStore, m: PackManifest) -> list[str]:
    d = store.pack_dir(m)
    return sorted(p.name for p in d.iterdir() if p.is_file() and not p.name.startswith(".")) if d.is_dir() else []


def test_fetch_installs_members_and_plain_file_then_is_idempotent(tmp_path, http_files, gen_pack):
    f, store = _fetcher(tmp_path, http_files)
    m = _manifest(gen_pack)
    report = f.fetch(m)
    assert sorted(report.installed) == ["det.onnx", "direct.onnx", "emb.onnx"]
    d = store.pack_dir(m)
    assert (d / "det.onnx").read_bytes() == gen_pack.members["det.onnx"]
    assert (d / "emb.onnx").read_bytes() == gen_pack.members["emb.onnx"]
    assert (d / "direct.onnx").read_bytes() == gen_pack.direct
    # the zip and the staging folder are gone; the unused member was never extracted
    assert _installed(store, m) == ["det.onnx", "direct.onnx", "emb.onnx"]
    assert not (d / PARTIAL_DIR).exists()
    assert all(c.ok for c in store.verify(m))
    assert report.downloaded_bytes == len(gen_pack.archive) + len(gen_pack.direct)

    n_requests = len(http_files.log)
    again = f.fetch(m)
    assert again.installed == [] and sorted(again.up_to_date) == ["det.onnx", "direct.onnx", "emb.onnx"]
    assert len(http_files.log) == n_requests  # nothing downloaded again


def test_keep_archive(tmp_path, http_files, gen_pack):
    f, store = _fetcher(tmp_path, http_files, keep_archive=True)
    m = _manifest(gen_pack)
    f.fetch(m)
    assert (store.pack_dir(m) / "testpack.zip").read_bytes() == gen_pack.archive


def test_truncated_download_resumes_with_range(tmp_path, http_files, gen_pack):
    http_files.faults[DIRECT] = ["truncate", 1]
    f, store = _fetcher(tmp_path, http_files)
    m = _manifest(gen_pack)
    with pytest.raises(FetchError) as exc:
        f.fetch(m)
    assert exc.value.code == "network_error"
    assert "resume" in exc.value.message
    part = store.pack_dir(m) / PARTIAL_DIR / "direct.onnx"
    kept = part.stat().st_size
    assert 0 < kept < len(gen_pack.direct)
    assert _installed(store, m) == []  # nothing installed while a file is missing

    report = f.fetch(m)
    assert report.resumed_from == {"direct.onnx": kept}
    last = [e for e in http_files.log if e["path"] == DIRECT][-1]
    assert last["range"] == f"bytes={kept}-" and last["status"] == 206
    assert (store.pack_dir(m) / "direct.onnx").read_bytes() == gen_pack.direct
    assert all(c.ok for c in store.verify(m))


def test_server_without_range_support_restarts_from_zero(tmp_path, http_files, gen_pack):
    http_files.range_support = False
    http_files.faults[ARCHIVE] = ["truncate", 1]
    f, store = _fetcher(tmp_path, http_files)
    m = _manifest(gen_pack)
    with pytest.raises(FetchError):
        f.fetch(m)
    report = f.fetch(m)
    last = [e for e in http_files.log if e["path"] == ARCHIVE][-1]
    assert last["range"] is not None and last["status"] == 200  # asked to resume, got the whole file
    assert report.resumed_from == {}
    assert (store.pack_dir(m) / "emb.onnx").read_bytes() == gen_pack.members["emb.onnx"]


def test_wrong_bytes_give_checksum_mismatch_and_delete_the_partial(tmp_path, http_files, gen_pack):
    http_files.faults[DIRECT] = ["corrupt", 1]
    f, store = _fetcher(tmp_path, http_files)
    m = _manifest(gen_pack)
    with pytest.raises(FetchError) as exc:
        f.fetch(m)
    assert exc.value.code == "checksum_mismatch"
    assert not (store.pack_dir(m) / PARTIAL_DIR / "direct.onnx").exists()
    assert _installed(store, m) == []


def test_wrong_member_checksum_installs_nothing_of_the_pack(tmp_path, http_files, gen_pack):
    gen_pack.manifest["files"][2]["sha256"] = hashlib.sha256(b"something else").hexdigest()
    f, store = _fetcher(tmp_path, http_files)
    m = _manifest(gen_pack)
    with pytest.raises(FetchError) as exc:
        f.fetch(m)
    assert exc.value.code == "checksum_mismatch" and "emb.onnx" in exc.value.message
    assert _installed(store, m) == []  # det.onnx and direct.onnx passed, but the pack is all or nothing


def test_http_404(tmp_path, http_files, gen_pack):
    http_files.faults[ARCHIVE] = ["404", 1]
    f, _ = _fetcher(tmp_path, http_files)
    with pytest.raises(FetchError) as exc:
        f.fetch(_manifest(gen_pack))
    assert exc.value.code == "http_error" and "404" in exc.value.message


def test_size_mismatch(tmp_path, http_files, gen_pack):
    http_files.faults[DIRECT] = ["extra", 1]
    f, store = _fetcher(tmp_path, http_files)
    m = _manifest(gen_pack)
    with pytest.raises(FetchError) as exc:
        f.fetch(m)
    assert exc.value.code == "size_mismatch"
    assert _installed(store, m) == []


def test_member_size_mismatch(tmp_path, http_files, gen_pack):
    gen_pack.manifest["files"][1]["size"] += 1
    f, _ = _fetcher(tmp_path, http_files)
    with pytest.raises(FetchError) as exc:
        f.fetch(_manifest(gen_pack))
    assert exc.value.code == "size_mismatch" and "det.onnx" in exc.value.message


def test_connection_refused_is_a_network_error(tmp_path, gen_pack):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    f = Fetcher(PackStore(tmp_path / "cache"), mirror=f"http://127.0.0.1:{port}", timeout=5)
    with pytest.raises(FetchError) as exc:
        f.fetch(_manifest(gen_pack))
    assert exc.value.code == "network_error" and "refused" in exc.value.message


def test_not_enough_disk_space_is_refused_before_downloading(tmp_path, http_files, gen_pack):
    gen_pack.manifest["files"][3]["size"] = 10**17  # 100 PB: no disk here has that
    f, store = _fetcher(tmp_path, http_files)
    with pytest.raises(FetchError) as exc:
        f.fetch(_manifest(gen_pack))
    assert exc.value.code == "disk_full"
    assert http_files.log == []


def test_enospc_while_writing_is_disk_full(tmp_path, http_files, gen_pack):
    # /dev/full answers every write with ENOSPC: the kernel's own "disk full", no mock needed
    f, store = _fetcher(tmp_path, http_files)
    m = _manifest(gen_pack)
    partial = store.pack_dir(m) / PARTIAL_DIR
    partial.mkdir(parents=True)
    (partial / "testpack.zip").symlink_to("/dev/full")
    with pytest.raises(FetchError) as exc:
        f.fetch(m)
    assert exc.value.code == "disk_full"
    assert _installed(store, m) == []


def test_unpinned_file_is_refused_unless_trusted(tmp_path, http_files, gen_pack):
    gen_pack.manifest["files"][3]["sha256"] = None
    f, store = _fetcher(tmp_path, http_files)
    m = _manifest(gen_pack)
    with pytest.raises(FetchError) as exc:
        f.fetch(m)
    assert exc.value.code == "unpinned_checksum" and "direct.onnx" in exc.value.message
    assert http_files.log == []
    f2, _ = _fetcher(tmp_path, http_files, trust_unpinned=True)
    assert "direct.onnx" in f2.fetch(m).installed


def test_member_of_a_pinned_archive_needs_no_hash_of_its_own(tmp_path, http_files, gen_pack):
    gen_pack.manifest["files"][1]["sha256"] = None
    f, store = _fetcher(tmp_path, http_files)
    assert "det.onnx" in f.fetch(_manifest(gen_pack)).installed


def test_archive_that_is_not_a_zip(tmp_path, http_files, gen_pack):
    junk = b"<html>not a zip</html>" * 100
    http_files.files[ARCHIVE] = junk
    gen_pack.manifest["files"][0].update(size=len(junk), sha256=hashlib.sha256(junk).hexdigest())
    f, store = _fetcher(tmp_path, http_files)
    m = _manifest(gen_pack)
    with pytest.raises(FetchError) as exc:
        f.fetch(m)
    assert exc.value.code == "bad_archive"
    assert _installed(store, m) == []


def test_mirror_replaces_scheme_and_host_only():
    url = "https://github.com/deepinsight/insightface/releases/download/v0.7/buffalo_sc.zip"
    assert resolve_url(url, "http://10.0.0.5:8080") == \
        "http://10.0.0.5:8080/deepinsight/insightface/releases/download/v0.7/buffalo_sc.zip"
    assert resolve_url(url, "http://10.0.0.5/models/") == \
        "http://10.0.0.5/models/deepinsight/insightface/releases/download/v0.7/buffalo_sc.zip"
    assert resolve_url(url, "") == url
    with pytest.raises(FetchError) as exc:
        resolve_url(url, "not a url")
    assert exc.value.code == "bad_mirror"


def test_second_fetch_of_the_same_pack_is_refused_while_one_runs(tmp_path, http_files, gen_pack):
    f, store = _fetcher(tmp_path, http_files)
    m = _manifest(gen_pack)
    store.pack_dir(m).mkdir(parents=True)
    with open(store.pack_dir(m) / LOCK_FILE, "a+") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)  # as another `menwei models fetch` would
        with pytest.raises(FetchError) as exc:
            f.fetch(m)
        assert exc.value.code == "fetch_busy"
    assert "det.onnx" in f.fetch(m).installed  # lock released: fine again


def test_network_errors_are_described():
    url = "https://github.com/x.zip"
    dns = httpx.ConnectError("[Errno -2] Name or service not known")
    assert "DNS" in _describe_network_error(dns, url) and "github.com" in _describe_network_error(dns, url)
    refused = httpx.ConnectError("[Errno 111] Connection refused")
    assert "refused" in _describe_network_error(refused, url)
    assert "timed out" in _describe_network_error(httpx.ReadTimeout("read timed out"), url)


def test_git_lfs_pointer_instead_of_the_file_is_named(tmp_path, http_files, gen_pack):
    # raw.githubusercontent.com serves LFS-stored models as this 131-byte pointer
    http_files.files[DIRECT] = (b"version https://git-lfs.github.com/spec/v1\noid sha256:" + b"0" * 64
                                + b"\nsize 300000\n")
    f, store = _fetcher(tmp_path, http_files)
    with pytest.raises(FetchError) as exc:
        f.fetch(_manifest(gen_pack))
    assert exc.value.code == "size_mismatch" and "LFS" in exc.value.message
