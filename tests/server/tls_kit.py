"""A throw-away certificate authority for tests that need a real TLS broker (openssl, as a
technician would make one): a CA, and a server certificate for 127.0.0.1 signed by it."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest


@dataclass(frozen=True)
class ThrowawayCA:
    ca: Path  # the CA certificate the gates trust (goes into their bundle)
    cert: Path  # the broker's certificate, SAN IP:127.0.0.1
    key: Path  # its private key


def _run(*cmd: str) -> None:
    subprocess.run(cmd, check=True, capture_output=True)


def make_ca(d: Path, cn: str = "menwei test CA") -> ThrowawayCA:
    if not shutil.which("openssl"):
        pytest.fail("openssl is needed (Debian package openssl)", pytrace=False)
    d.mkdir(parents=True, exist_ok=True)
    _run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", f"/CN={cn}",
         "-keyout", str(d / "ca.key"), "-out", str(d / "ca.pem"))
    _run("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1",
         "-keyout", str(d / "server.key"), "-out", str(d / "server.csr"))
    (d / "san.ext").write_text("subjectAltName=IP:127.0.0.1\n")
    _run("openssl", "x509", "-req", "-in", str(d / "server.csr"), "-CA", str(d / "ca.pem"), "-CAkey", str(d / "ca.key"),
         "-CAcreateserial", "-days", "1", "-extfile", str(d / "san.ext"), "-out", str(d / "server.pem"))
    return ThrowawayCA(ca=d / "ca.pem", cert=d / "server.pem", key=d / "server.key")
