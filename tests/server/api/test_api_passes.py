"""Visitor passes through the API: issued and signed for a host resident, verifiable offline with
the published public key, scoped to the office's compounds, revoked into the next gallery."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import cv2
import numpy as np
import pytest
from sqlalchemy import select

from edge.face.gallery import Gallery
from edge.vision.qr import QrReader
from menwei.passes import PassRefused, verify_pass
from server.api.roles import Role
from server.db.models import AuditLog, GalleryVersion, Gate, Resident


def _setup(api, uid):
    site, other = f"s{uid}", f"o{uid}"
    for s_ in (site, other):
        api.add_site(s_)
    with api.sessions() as s:
        s.add_all([Resident(id=f"host-{uid}", site_id=site, name="Li Na"),
                   Resident(id=f"far-{uid}", site_id=other, name="Wang Wei"),
                   Gate(id=f"east-{uid}", site_id=site, direction="in"),
                   Gate(id=f"gw-{uid}", site_id=other, direction="in")])
        s.commit()
    officer = api.add_user(f"off{uid}", Role.COMMUNITY_OFFICER, [site])
    return site, other, officer


def _window(hours_from: float = -1, hours_to: float = 8) -> dict:
    now = datetime.now(UTC)
    return {"valid_from": (now + timedelta(hours=hours_from)).isoformat(),
            "valid_until": (now + timedelta(hours=hours_to)).isoformat()}


def test_an_office_issues_a_pass_that_a_gate_verifies_offline(api, uid):
    site, _other, officer = _setup(api, uid)
    r = api.client.post(f"/api/v1/sites/{site}/passes", headers=officer,
                        json={"host_resident_id": f"host-{uid}", "gates": [f"east-{uid}"], "note": "plumber",
                              **_window()})
    assert r.status_code == 201, r.text
    issued = r.json()
    pub = base64.b64decode(api.client.get("/api/v1/passes/public-key", headers=officer).json()["public_key"])
    # the QR code the visitor is given decodes to the token, and the token verifies with the public key
    png = np.frombuffer(base64.b64decode(issued["qr_png_base64"]), np.uint8)
    assert QrReader().read(cv2.imdecode(png, cv2.IMREAD_GRAYSCALE)) == [issued["token"]]
    p = verify_pass(issued["token"], pub, site_id=site, gate_id=f"east-{uid}")
    assert (str(p.pass_id), p.host_resident_id) == (issued["pass_id"], f"host-{uid}")
    assert "plumber" not in base64.urlsafe_b64decode(issued["token"].split(".")[1] + "==").decode()
    with pytest.raises(PassRefused):
        verify_pass(issued["token"], pub, site_id=site, gate_id="west")
    listed = api.client.get(f"/api/v1/sites/{site}/passes", headers=officer).json()
    assert [x["pass_id"] for x in listed] == [issued["pass_id"]] and "token" not in listed[0]
    with api.sessions() as s:
        actions = [a.action for a in s.scalars(select(AuditLog).where(AuditLog.object_type == "visitor_pass").order_by(AuditLog.id))]
    assert actions == ["issue_pass", "read"]


def test_bad_requests_and_other_compounds(api, uid):
    site, other, officer = _setup(api, uid)
    url = f"/api/v1/sites/{site}/passes"
    cases = [({"host_resident_id": f"far-{uid}", **_window()}, "host_resident_id"),  # another compound's resident
             ({"host_resident_id": f"host-{uid}", "gates": [f"gw-{uid}"], **_window()}, "gates"),
             ({"host_resident_id": f"host-{uid}", **_window(2, 1)}, "valid_until"),
             ({"host_resident_id": f"host-{uid}", **_window(-9, -8)}, "valid_until"),
             ({"host_resident_id": f"host-{uid}", **_window(0, 24 * 400)}, "366 days"),
             ({"host_resident_id": f"host-{uid}", "valid_from": "2026-12-07T09:00:00",
               "valid_until": "2026-12-07T18:00:00"}, "time zone")]
    for body, word in cases:
        r = api.client.post(url, headers=officer, json=body)
        assert r.status_code == 422 and word in r.json()["detail"], (body, r.text)
    assert api.client.post(f"/api/v1/sites/{other}/passes", headers=officer,
                           json={"host_resident_id": f"far-{uid}", **_window()}).status_code == 404
    pm = api.add_user(f"pm{uid}", Role.PROPERTY_MANAGER, [site])  # no registry access: no passes
    assert api.client.post(url, headers=pm, json={"host_resident_id": f"host-{uid}", **_window()}).status_code == 403


def test_a_revoked_pass_reaches_the_gates_in_the_next_gallery(api, uid):
    site, other, officer = _setup(api, uid)
    issued = api.client.post(f"/api/v1/sites/{site}/passes", headers=officer,
                             json={"host_resident_id": f"host-{uid}", **_window()}).json()
    stranger = api.add_user(f"off2{uid}", Role.COMMUNITY_OFFICER, [other])
    assert api.client.post(f"/api/v1/passes/{issued['pass_id']}/revoke", headers=stranger).status_code == 404
    r = api.client.post(f"/api/v1/passes/{issued['pass_id']}/revoke", headers=officer)
    assert r.status_code == 200 and r.json()["revoked_by"] == f"off{uid}"
    assert api.client.post(f"/api/v1/passes/{issued['pass_id']}/revoke", headers=officer).status_code == 409
    assert api.state.republisher.flush(30)
    with api.sessions() as s:
        data = s.scalars(select(GalleryVersion.data).where(GalleryVersion.site_id == site)
                         .order_by(GalleryVersion.version.desc())).first()
    revoked = Gallery.from_bytes(data).revoked_passes
    assert revoked == {issued["pass_id"]}
    pub = base64.b64decode(api.client.get("/api/v1/passes/public-key", headers=officer).json()["public_key"])
    with pytest.raises(PassRefused) as exc:  # what the gate does with that gallery
        verify_pass(issued["token"], pub, site_id=site, gate_id=f"east-{uid}", revoked=revoked)
    assert exc.value.code == "revoked"
    assert api.client.get(f"/api/v1/sites/{site}/passes", headers=officer).json() == []  # active only
    assert len(api.client.get(f"/api/v1/sites/{site}/passes?active_only=false", headers=officer).json()) == 1
