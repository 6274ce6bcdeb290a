"""Setting the page up: the stored hash (checked against RFC 7914's published scrypt vector), the
gate file's page section, `menwei edge page-password`, and the server thread beside the agent."""

from __future__ import annotations

import base64
import io
import socket

import httpx
import pytest
from page_kit import FakeView, page_section

from edge.agent.config import GateConfigError, parse_gate_config
from edge.page.password import BadPasswordHash, hash_password, verify_password
from edge.page.serve import PageError, PageServer
from menwei.cli import main

# RFC 7914 section 12, the third vector: scrypt(P="pleaseletmein", S="SodiumChloride", N=16384, r=8, p=1, dkLen=64)
RFC_DIGEST = bytes.fromhex(
    "7023bdcb3afd7348461c06cd81fd38ebfda8fbba904f8e3ea9b543f6545da1f2"
    "d5432955613f0fcf62d49705242a9af9e61e85dc0d651e40dfcf017b45575887")
RFC_HASH = "$".join(["scrypt", "14", "8", "1", base64.b64encode(b"SodiumChloride").decode(),
                     base64.b64encode(RFC_DIGEST).decode()])

GATE = {"site": "s1", "gate": "g1", "data_dir": "/tmp/x", "camera": {"source": "/dev/video0"},
        "mqtt": {"url": "mqtt://127.0.0.1:1883"}}


def test_the_stored_hash_is_scrypt_as_published():
    assert verify_password("pleaseletmein", RFC_HASH)
    assert not verify_password("pleaseletmeIn", RFC_HASH)


def test_a_fresh_hash_is_salted_and_verifies():
    a, b = hash_password("same password"), hash_password("same password")
    assert a != b and verify_password("same password", a) and verify_password("same password", b)
    assert "same password" not in a


@pytest.mark.parametrize("bad", ["hunter2", "scrypt$14$8$1$!!$!!", "scrypt$30$8$1$AAAAAAAAAAA=$" + "A" * 44,
                                 "pbkdf2$1$2$3$4$5"])
def test_a_malformed_hash_is_refused(bad):
    with pytest.raises(BadPasswordHash):
        verify_password("x", bad)


def test_the_gate_file_page_section():
    assert parse_gate_config(GATE).page is None  # no section, no page
    cfg = parse_gate_config({**GATE, "page": {"password_hash": RFC_HASH, "listen": "0.0.0.0:8088"}})
    assert (cfg.page.host_port, cfg.page.user) == (("0.0.0.0", 8088), "guard")


@pytest.mark.parametrize("page, field", [
    ({"password_hash": "hunter2"}, "page.password_hash"),
    ({}, "page.password_hash"),
    ({"password_hash": RFC_HASH, "listen": "8080"}, "page.listen"),
    ({"password_hash": RFC_HASH, "listen": "host:99999"}, "page.listen"),
    ({"password_hash": RFC_HASH, "user": "a b"}, "page.user"),
    ({"password_hash": RFC_HASH, "password": "plain"}, "page.password"),
])
def test_page_errors_name_the_field(page, field):
    with pytest.raises(GateConfigError) as err:
        parse_gate_config({**GATE, "page": page})
    assert err.value.message.startswith(f"{field}:") or f"; {field}:" in err.value.message, err.value.message


def test_page_password_prints_a_hash_of_stdin(monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", io.StringIO("correct horse battery\n"))
    assert main(["edge", "page-password"]) == 0
    out = capsys.readouterr().out.strip()
    assert verify_password("correct horse battery", out) and "correct horse" not in out
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert main(["edge", "page-password"]) == 2
    assert "at least 8 characters" in capsys.readouterr().err


def test_the_server_thread_serves_and_stops():
    server = PageServer(FakeView({"fps": 1}), page_section(), port=0).start()
    try:
        r = httpx.get(f"http://127.0.0.1:{server.port}/healthz", timeout=5)
        assert (r.status_code, r.json()) == (200, {"ok": True})
    finally:
        server.stop()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{server.port}/healthz", timeout=2)


def test_a_taken_port_is_one_clear_error():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        port = s.getsockname()[1]
        with pytest.raises(PageError) as err:
            PageServer(FakeView(), page_section(), port=port).start()
    assert err.value.message == f"page: cannot serve on 127.0.0.1:{port} (port taken or address not on this box?)"
