"""Visitor passes: signed by the server's key, read from a camera frame, verified offline."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime

import cv2
import numpy as np
import pytest

from edge.vision.qr import QrReader, qr_image
from menwei.passes import PassRefused, VisitorPass, new_signing_key, sign_pass, verify_pass

NOW = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)
T = int(NOW.timestamp())
KEY, PUB = new_signing_key()


def a_pass(**kw) -> VisitorPass:
    data = {"p": uuid.uuid4(), "s": "site-1", "g": ("east",), "h": "res-42", "nb": T - 3600, "na": T + 3600}
    data.update(kw)
    return VisitorPass(**data)


def shown_to_the_camera(token: str, faces_dir) -> np.ndarray:
    """The QR code on a phone held up in a 1280x720 frame: tilted, smaller, JPEG-compressed."""
    frame = cv2.imread(str(faces_dir / "misc" / "obama-720p.jpg"))
    code = cv2.cvtColor(qr_image(token, module_px=5), cv2.COLOR_GRAY2BGR)
    h, w = code.shape[:2]
    src = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    dst = np.float32([[860, 250], [1180, 275], [1165, 600], [845, 580]])  # held at a slight angle
    warped = cv2.warpPerspective(code, cv2.getPerspectiveTransform(src, dst), (frame.shape[1], frame.shape[0]),
                                 borderValue=(0, 0, 0))
    mask = cv2.warpPerspective(np.full((h, w), 255, np.uint8), cv2.getPerspectiveTransform(src, dst),
                               (frame.shape[1], frame.shape[0]))
    frame[mask > 0] = warped[mask > 0]
    ok, jpg = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, 80])
    return cv2.imdecode(jpg, cv2.IMREAD_COLOR)


def test_a_valid_pass_is_read_from_a_camera_frame_and_verified_offline(faces_dir):
    p = a_pass()
    token = sign_pass(p, KEY)
    texts = QrReader().read(shown_to_the_camera(token, faces_dir))
    assert texts == [token]
    got = verify_pass(texts[0], PUB, site_id="site-1", gate_id="east", now=NOW)
    assert (got.pass_id, got.host_resident_id) == (p.pass_id, "res-42")
    # an empty gate list opens every gate of its compound
    assert verify_pass(sign_pass(a_pass(g=()), KEY), PUB, site_id="site-1", gate_id="west", now=NOW)


def test_a_frame_without_a_code_reads_nothing(faces_dir):
    assert QrReader().read(cv2.imread(str(faces_dir / "misc" / "obama-720p.jpg"))) == []


@pytest.mark.parametrize(("change", "where", "reason"), [
    ({"na": T}, {}, "expired"),  # the end is exclusive
    ({"nb": T + 1}, {}, "not_yet_valid"),
    ({}, {"gate_id": "west"}, "wrong_gate"),
    ({}, {"site_id": "site-2"}, "wrong_gate"),
])
def test_refusals_name_their_reason(change, where, reason):
    token = sign_pass(a_pass(**change), KEY)
    with pytest.raises(PassRefused) as exc:
        verify_pass(token, PUB, **{"site_id": "site-1", "gate_id": "east", **where}, now=NOW)
    assert exc.value.code == reason


def test_revoked_forged_and_altered_passes_are_refused():
    p = a_pass()
    token = sign_pass(p, KEY)
    with pytest.raises(PassRefused) as exc:
        verify_pass(token, PUB, site_id="site-1", gate_id="east", now=NOW, revoked={str(p.pass_id)})
    assert exc.value.code == "revoked"
    other_key, _ = new_signing_key()  # someone else's key: a forgery
    with pytest.raises(PassRefused) as exc:
        verify_pass(sign_pass(p, other_key), PUB, site_id="site-1", gate_id="east", now=NOW)
    assert exc.value.code == "bad_signature"
    # the claims edited to another host and a later end, the server's signature kept
    body, sig = token.rsplit(".", 1)
    claims = json.loads(base64.urlsafe_b64decode(body[4:] + "=" * (-len(body[4:]) % 4)))
    claims.update(h="res-99", na=T + 10**7)
    forged_body = "MW1." + base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    with pytest.raises(PassRefused) as exc:
        verify_pass(f"{forged_body}.{sig}", PUB, site_id="site-1", gate_id="east", now=NOW)
    assert exc.value.code == "bad_signature"


@pytest.mark.parametrize("token", ["https://example.com/promo", "MW1.abc", "MW1.!!.??", "MW1." + "A" * 2000 + ".x",
                                   "", "MW1.e30.AAAA"])
def test_anything_else_in_a_qr_code_is_bad_format_or_bad_signature(token):
    with pytest.raises(PassRefused) as exc:
        verify_pass(token, PUB, site_id="site-1", gate_id="east", now=NOW)
    assert exc.value.code in ("bad_format", "bad_signature")
