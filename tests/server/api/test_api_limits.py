"""Issue 8 item 5: bodies are bounded before authentication and parsing, images by their header,
zip entries while they inflate. Every bad input is built here; the assertions are the status, the
shared error body, how much of the body the server consumed, and the memory it allocated."""

from __future__ import annotations

import asyncio
import io
import json
import struct
import tracemalloc
import zipfile
import zlib
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from server.api.app import create_app
from server.api.roles import Role
from server.api.routers.auth import create_user
from server.api.settings import ApiSettings
from server.db.models import Site
from server.db.session import make_engine, session_factory, upgrade
from server.registry.faces import EngineHolder, check_image_header
from server.registry.import_csv import ZipPhotos
from server.registry.service import InvalidInput

PASSWORD = "s3cret-pass"
CHUNK = 64 * 1024
KIB, MIB = 1024, 1024 * 1024


class Body:
    """A request body streamed in chunks, counting how many the server pulled."""

    def __init__(self, total: int, chunk: bytes = b"x" * CHUNK, head: bytes = b""):
        self.total, self.chunk, self.head, self.pulled = total, chunk, head, 0

    def __iter__(self) -> Iterator[bytes]:
        if self.head:
            yield self.head
        sent = 0
        while sent < self.total:
            self.pulled += 1
            sent += len(self.chunk)
            yield self.chunk


def asgi_post(app, path: str, body: Body, headers: dict[str, str]) -> tuple[int, dict, bytes]:
    """POST straight through the ASGI interface, the body in chunks without a Content-Length (as
    a chunked upload reaches the app). TestClient would read the whole body first."""
    chunks = iter(body)
    sent: list[dict] = []

    async def receive() -> dict:
        chunk = next(chunks, None)
        if chunk is None:
            return {"type": "http.request", "body": b"", "more_body": False}
        return {"type": "http.request", "body": chunk, "more_body": True}

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
             "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
             "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
             "client": ("203.0.113.5", 40000), "server": ("testserver", 80), "state": {}}
    asyncio.run(app(scope, receive, send))
    start = next(m for m in sent if m["type"] == "http.response.start")
    return start["status"], {k.decode(): v.decode() for k, v in start["headers"]}, \
        b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")


def _no_engine(_pack: str):
    raise AssertionError("the face engine must not be loaded for a refused input")


@pytest.fixture
def small(tmp_path):
    """An app with small limits, so the tests stream megabytes, not hundreds of them."""
    url = f"sqlite:///{tmp_path / 'limits.db'}"
    upgrade(url)
    eng = make_engine(url)
    sessions = session_factory(eng)
    settings = ApiSettings(secret="t" * 40, bcrypt_rounds=4, gallery_debounce_s=0.0, public_url="http://testserver",
                           max_json_bytes=64 * KIB, max_photo_bytes=1 * MIB, max_photo_upload_bytes=2 * MIB,
                           max_import_bytes=4 * MIB, max_csv_bytes=64 * KIB, max_zip_entries=50)
    app = create_app(settings, sessions, engine=EngineHolder("dlib-resnet", loader=_no_engine))
    with sessions() as s:
        s.add(Site(id="s1", name="compound"))
        create_user(s, "officer", PASSWORD, Role.COMMUNITY_OFFICER, ["s1"], rounds=4)
        s.commit()
    with TestClient(app) as client:
        tok = client.post("/api/v1/auth/token", data={"username": "officer", "password": PASSWORD}).json()
        client.auth_headers = {"Authorization": f"Bearer {tok['access_token']}"}
        yield client
    eng.dispose()


def _too_large(r, limit: int) -> None:
    assert r.status_code == 413, r.text
    body = r.json()
    assert body["code"] == "too_large" and str(limit) in body["detail"] and set(body) == {"detail", "code"}


def test_declared_oversized_json_is_refused_unread_and_before_auth(small):
    body = Body(200 * MIB)
    r = small.post("/api/v1/sites", content=body, headers={"Content-Length": str(200 * MIB),
                                                           "Content-Type": "application/json"})
    _too_large(r, 64 * KIB)  # 413, not the 401 an anonymous caller would get after parsing
    assert body.pulled == 0


def test_chunked_body_is_counted_while_streaming(small):
    body = Body(200 * MIB)
    tracemalloc.start()
    try:
        status, headers, raw = asgi_post(small.app, "/api/v1/sites", body, {"Content-Type": "application/json"})
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert status == 413 and headers["content-type"] == "application/json"
    answer = json.loads(raw)
    assert answer["code"] == "too_large" and str(64 * KIB) in answer["detail"]
    assert body.pulled <= 64 * KIB // CHUNK + 2  # stopped right after the limit, not after 200 MB
    assert peak < 8 * MIB


def test_anonymous_upload_is_refused_before_its_body_is_read(small):
    for headers in ({}, {"Authorization": "Bearer forged.token.value"}):
        body = Body(3 * MIB)
        r = small.post("/api/v1/sites/s1/imports", content=body,
                       headers={**headers, "Content-Type": "multipart/form-data; boundary=x"})
        assert r.status_code == 401 and r.json()["code"] == "unauthorized"
        assert body.pulled == 0  # nothing spooled for an anonymous caller


def test_upload_over_its_route_limit_is_413_after_the_limit(small):
    # a real multipart body (a part that never ends), streamed: parsed and spooled until the cap
    body = Body(50 * MIB, head=b'--x\r\nContent-Disposition: form-data; name="file"; filename="a.jpg"\r\n\r\n')
    status, _, raw = asgi_post(small.app, "/api/v1/residents/r1/photos", body,
                               {**small.auth_headers, "Content-Type": "multipart/form-data; boundary=x"})
    assert status == 413 and json.loads(raw)["code"] == "too_large", raw
    assert body.pulled <= 2 * MIB // CHUNK + 2
    # the same size is fine for the import route (its own, larger cap) and is then parsed
    r = small.post("/api/v1/sites/s1/imports", headers=small.auth_headers,
                   files={"csv": ("r.csv", b"resident_id,name,building,unit,household,status\n" + b"x" * 3 * MIB)})
    _too_large(r, 64 * KIB)  # ... where the CSV part meets the CSV cap
    assert "the CSV is" in r.json()["detail"]  # known from the spooled size, before reading it


def _zip(entries: dict[str, bytes], method=zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", method) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return buf.getvalue()


CSV = b"resident_id,name,building,unit,household,status\n"


def test_zip_with_too_many_entries_is_refused(small):
    z = _zip({f"p{i}.jpg": b"x" for i in range(51)})
    r = small.post("/api/v1/sites/s1/imports", headers=small.auth_headers,
                   files={"csv": ("r.csv", CSV), "photos": ("p.zip", z)})
    assert r.status_code == 422 and r.json()["code"] == "invalid_input"
    assert "51 entries" in r.json()["detail"] and "50" in r.json()["detail"]


def test_zip_entry_inflating_far_beyond_its_size_is_abandoned_early():
    # 8 MiB of zeros (under the 10 MiB photo cap, declared honestly) deflate to ~8 KB: ratio ~1000
    bomb = _zip({"r1.jpg": bytes(8 * MIB)})
    assert len(bomb) < 64 * KIB
    with zipfile.ZipFile(io.BytesIO(bomb)) as zf:
        photos = ZipPhotos(zf, 10 * MIB, max_ratio=50.0)
        tracemalloc.start()
        try:
            found = photos.find("r1")
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert found == ("r1.jpg", b"")  # → bad_image, like any unreadable photo
    assert peak < 2 * MIB  # before: the whole 8 MiB was inflated into memory


def test_zip_entry_lying_about_its_size_is_capped():
    bomb = bytearray(_zip({"r1.jpg": bytes(64 * MIB)}))
    # patch the uncompressed size in the local header (offset 22) and central directory (offset 24)
    local = bomb.index(b"PK\x03\x04")
    central = bomb.index(b"PK\x01\x02")
    struct.pack_into("<I", bomb, local + 22, 500_000)
    struct.pack_into("<I", bomb, central + 24, 500_000)
    with zipfile.ZipFile(io.BytesIO(bytes(bomb))) as zf:
        assert zf.infolist()[0].file_size == 500_000
        tracemalloc.start()
        try:
            found = ZipPhotos(zf, 10 * MIB).find("r1")
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert found == ("r1.jpg", b"") and peak < 4 * MIB


def test_zip_declaring_more_than_the_import_cap_is_refused():
    z = _zip({"a.jpg": bytes(2 * MIB), "b.jpg": bytes(2 * MIB)})
    with zipfile.ZipFile(io.BytesIO(z)) as zf, pytest.raises(InvalidInput, match="unpacks to"):
        ZipPhotos(zf, 10 * MIB, max_total=3 * MIB)


def _png(width: int, height: int) -> bytes:
    """A real grayscale PNG of zeros, compressed row block by row block (never held unpacked)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    z = zlib.compressobj(9)
    block = b"\x00" * (width + 1) * 256  # filter byte + one byte per pixel, 256 rows
    parts = [z.compress(block) for _ in range(height // 256)]
    parts += [z.compress(b"\x00" * (width + 1) * (height % 256)), z.flush()]
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", b"".join(parts)) + chunk(b"IEND", b"")


@pytest.fixture(scope="module")
def huge_png() -> bytes:
    data = _png(20000, 20000)
    assert len(data) < 500 * KIB  # ~389 KB on the wire for 400 megapixels
    return data


def test_header_check_reads_dimensions_only(huge_png):
    assert check_image_header(_png(300, 200), "small.png") == (300, 200)
    tracemalloc.start()
    try:
        with pytest.raises(Exception, match="too many pixels") as info:
            check_image_header(huge_png, "huge.png")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert info.value.code == "unreadable_image"
    assert peak < 4 * MIB  # decoding would allocate 1.2 GB (20000 x 20000 x BGR)
    with pytest.raises(Exception, match="too many pixels"):
        check_image_header(_png(8000, 8000), "64mp.png")  # above the 60 MP limit, below Pillow's own


def test_huge_png_upload_is_refused_without_decoding(small, huge_png):
    officer = small.auth_headers
    r = small.post("/api/v1/residents", json={"id": "r1", "site_id": "s1", "name": "R", "status": "resident"},
                   headers=officer)
    assert r.status_code == 201, r.text
    tracemalloc.start()
    try:
        r = small.post("/api/v1/residents/r1/photos", headers=officer, files={"file": ("huge.png", huge_png)})
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert r.status_code == 422
    result = r.json()["results"][0]
    assert result["code"] == "unreadable_image" and "too many pixels" in result["message"]
    assert peak < 32 * MIB  # and the face engine was never loaded (the fixture's loader would fail)
