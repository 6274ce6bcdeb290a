"""Pieces of the API that need no database: passwords, tokens, roles, CSV rows, gallery files."""

from __future__ import annotations

import hashlib
import os
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from edge.face.gallery import Gallery
from server.api.roles import Perm, Principal, Role, permissions
from server.api.security import (
    InvalidToken,
    TokenIssuer,
    WeakPassword,
    hash_password,
    load_or_create_secret,
    verify_password,
)
from server.gallery.build import GalleryEntry, build_gallery
from server.registry.csv_rows import CsvError, parse_csv

SECRET = "x" * 40


def test_password_hash_round_trip_and_policy():
    h = hash_password("correct horse", rounds=4)
    assert verify_password("correct horse", h)
    assert not verify_password("correct horsE", h)
    assert not verify_password("correct horse", "not-a-hash")
    with pytest.raises(WeakPassword):
        hash_password("short", rounds=4)
    with pytest.raises(WeakPassword):
        hash_password("é" * 40, rounds=4)  # 80 bytes: bcrypt would silently truncate


def test_token_round_trip_expiry_and_tampering():
    issuer = TokenIssuer(SECRET, ttl=timedelta(minutes=5))
    tok = issuer.issue("alice", 7, "guard")
    claims = issuer.verify(tok)
    assert (claims.username, claims.user_id, claims.role) == ("alice", 7, "guard")
    old = issuer.issue("alice", 7, "guard", now=datetime.now(UTC) - timedelta(hours=1))
    with pytest.raises(InvalidToken, match="expired"):
        issuer.verify(old)
    with pytest.raises(InvalidToken):
        TokenIssuer("y" * 40).verify(tok)  # signed with another secret
    head, body, sig = tok.split(".")
    with pytest.raises(InvalidToken):
        issuer.verify(f"{head}.{body}.{sig[:-2]}AA")


def test_secret_file_created_once_private(tmp_path):
    path = tmp_path / "sub" / "jwt.secret"
    first = load_or_create_secret(path)
    assert len(first) >= 32
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert load_or_create_secret(path) == first


def test_roles_grant_what_the_issue_says():
    assert Perm.REGISTRY_WRITE not in permissions(Role.GUARD)
    assert Perm.ALERTS_ACK in permissions(Role.GUARD) and Perm.GATES_OPEN in permissions(Role.GUARD)
    assert Perm.GATES_COMMAND not in permissions(Role.GUARD)
    assert Perm.ENTRIES_READ not in permissions(Role.PROPERTY_MANAGER)
    assert Perm.GATES_WRITE in permissions(Role.PROPERTY_MANAGER)
    assert Perm.ENTRIES_EXPORT in permissions(Role.COMMUNITY_OFFICER)
    assert Perm.AUDIT_READ not in permissions(Role.COMMUNITY_OFFICER)
    assert permissions("nonsense") == frozenset()
    guard = Principal(1, "g", Role.GUARD, frozenset({"a"}))
    admin = Principal(2, "root", Role.ADMIN, None)
    assert guard.sees("a") and not guard.sees("b") and not guard.sees(None)
    assert admin.sees("b") and admin.can(Perm.AUDIT_READ)


CSV_HEADER = "resident_id,name,building,unit,household,status,valid_from,valid_until,phone\n"


def test_csv_rows_valid_and_invalid():
    text = CSV_HEADER + (
        "r1,Obama,1,2,101,resident,,,\n"
        "r2,Biden,1,2,102,visitor,2026-01-01,,\n"  # visitor without end date
        "r3,X,1,2,102,astronaut,,,\n"  # unknown status
        "r1,Again,1,2,101,tenant,,,\n"  # duplicate id
        "r/4,Slash,1,2,1,resident,,,\n"  # id unusable in topics/files
        "r5,Z,1,2,3,visitor,2026-01-02,2026-01-01,\n"  # period reversed
        "r6,张三,1,2,3,居家隔离,,2026-02-01,138 0013 8000\n"
        ",,,,,,,,\n"
    )
    rows = parse_csv(text.encode())
    assert [r.raw_id for r in rows] == ["r1", "r2", "r3", "r1", "r/4", "r5", "r6"]
    assert [r.row is not None for r in rows] == [True, False, False, False, False, False, True]
    assert "valid_until" in rows[1].error and "astronaut" in rows[2].error and "repeats" in rows[3].error
    r6 = rows[6].row
    assert r6.status == "quarantine" and r6.valid_until == datetime(2026, 2, 1, 23, 59, 59, tzinfo=UTC)
    assert rows[6].line == 8


def test_csv_gb18030_and_bom_and_missing_columns():
    text = CSV_HEADER + "r1,张三,1,2,101,业主,,,\n"
    assert parse_csv(text.encode("gb18030"))[0].row.name == "张三"
    assert parse_csv(b"\xef\xbb\xbf" + text.encode())[0].row.status == "resident"
    with pytest.raises(CsvError, match="household"):
        parse_csv(b"resident_id,name,building,unit,status\nr1,a,1,2,resident\n")
    with pytest.raises(CsvError):
        parse_csv(b"")


def test_gallery_file_round_trips_with_attributes():
    rng = np.random.default_rng(0)
    vecs = rng.normal(size=(3, 128)).astype(np.float32)
    until = datetime(2026, 3, 1, tzinfo=UTC)
    entries = [GalleryEntry("b", vecs[0], "visitor", None, until, {"household": "101"}),
               GalleryEntry("a", vecs[1], "resident"), GalleryEntry("a", vecs[2], "resident")]
    built = build_gallery("dlib-resnet", 128, 5, entries)
    assert built.sha256 == hashlib.sha256(built.data).hexdigest()
    assert (built.count, built.rows) == (2, 3)
    g = Gallery.from_bytes(built.data)
    assert g.version == 5 and g.pack == "dlib-resnet" and g.identities == ["a", "b"]
    assert g.attributes["b"] == {"status": "visitor", "valid_from": None,
                                 "valid_until": until.isoformat(), "household": "101"}
    assert g.search(vecs[0:1], k=1)[0][0].identity == "b"
    # same input, same bytes: a republish without a change is recognisable by its hash
    assert build_gallery("dlib-resnet", 128, 5, list(reversed(entries))).sha256 == built.sha256
