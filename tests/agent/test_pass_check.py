"""Visitor passes at the gate: read from a real video file, verified offline, one use per showing,
refused with the right reason, revocations following the gallery; the event the outbox keeps."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from pass_kit import _background, a_pass, phone_frame, read_frames, write_pass_video

from edge.agent.config import GateConfigError, parse_gate_config
from edge.agent.events import EventFactory
from edge.agent.passes import PassCheck
from edge.capture.source import Frame
from edge.face.gallery import Gallery
from menwei.passes import new_signing_key, sign_pass
from menwei.wire import EntryEvent

SITE, GATE = "site-p", "east"
KEY, PUB = new_signing_key()
OTHER_KEY, _ = new_signing_key()


def check(revoked=frozenset(), **kw) -> PassCheck:
    return PassCheck(PUB, SITE, GATE, revoked=lambda: revoked, **kw)


def uses(pc: PassCheck, frames) -> list:
    return [o for f in frames for o in pc.check(f)]


def test_a_pass_held_up_for_two_seconds_is_one_use_and_its_event_names_pass_and_host(tmp_path):
    p = a_pass(SITE, (GATE,), "res-42")
    video = write_pass_video(tmp_path / "visit.avi", {sign_pass(p, KEY): (2.0, 4.0)}, seconds=6.0)
    pc = check(every_n_frames=3, repeat_s=10)
    got = uses(pc, read_frames(video))
    assert [(o.accepted, o.code) for o in got] == [(True, None)]
    assert (got[0].claims.pass_id, got[0].claims.host_resident_id) == (p.pass_id, "res-42")
    # the code was read on many frames (30 frames shown, every 3rd looked at): the rest were repeats
    assert pc.stats.scans == 30 and pc.stats.repeats >= 5
    event = EventFactory(SITE, GATE, "in", "dlib-resnet", None).visitor_pass(1, got[0].use(), 4)
    wire = json.loads(event.to_json())  # what the outbox stores and the server receives
    assert (wire["decision"], wire["reasons"]) == ("granted", ["visitor_pass"])
    assert wire["visitor_pass"] == {"pass_id": str(p.pass_id), "host_resident_id": "res-42"}
    assert "resident_id" not in wire["person"]  # the visitor is not the host
    assert EntryEvent.from_payload(event.to_json()) == event


def test_the_same_pass_shown_again_after_repeat_s_is_a_second_use(tmp_path):
    token = sign_pass(a_pass(SITE), KEY)
    video = write_pass_video(tmp_path / "twice.avi", {token: (0.5, 2.0)}, seconds=6.0)
    frames = read_frames(video)
    # the same showing again, 4 s after the first one ended
    shifted = frames + [Frame(f.image, f.index + len(frames), f.timestamp + 6.0) for f in frames]
    assert [o.accepted for o in uses(check(every_n_frames=1, repeat_s=3), shifted)] == [True, True]
    assert [o.accepted for o in uses(check(every_n_frames=1, repeat_s=30), shifted)] == [True]


NOW = datetime.now(UTC)


@pytest.mark.parametrize(("name", "make", "revoked", "code", "names_it"), [
    ("expired", lambda: sign_pass(a_pass(SITE, valid_from=NOW - timedelta(days=2), valid_until=NOW - timedelta(days=1)),
                                  KEY), None, "expired", True),
    ("not yet valid", lambda: sign_pass(a_pass(SITE, valid_from=NOW + timedelta(hours=2),
                                               valid_until=NOW + timedelta(hours=4)), KEY), None, "not_yet_valid", True),
    ("revoked", lambda: sign_pass(REVOKED, KEY), {"x"}, "revoked", True),
    ("forged", lambda: sign_pass(a_pass(SITE), OTHER_KEY), None, "bad_signature", False),
    ("wrong gate", lambda: sign_pass(a_pass(SITE, ("west",)), KEY), None, "wrong_gate", True),
    ("other compound", lambda: sign_pass(a_pass("site-q"), KEY), None, "wrong_gate", True),
    ("altered", lambda: sign_pass(a_pass(SITE), KEY)[:-3] + "AAA", None, "bad_signature", False),
])
def test_a_refused_pass_is_one_denied_use_with_its_reason(name, make, revoked, code, names_it):
    token = make()
    pc = check(revoked=frozenset({str(REVOKED.pass_id)}) if revoked else frozenset(), every_n_frames=1)
    frame = phone_frame(_background(np.random.default_rng(1)), token)
    got = uses(pc, [Frame(frame, i, i / 15) for i in range(10)])
    assert [(o.accepted, o.code) for o in got] == [(False, code)], name
    use = got[0].use()
    assert use.refused == code
    # a pass whose signature does not verify names nothing: its claims are not believed
    assert (use.pass_id is not None, use.host_resident_id is not None) == (names_it, names_it)
    wire = json.loads(EventFactory(SITE, GATE, "in", "dlib-resnet", None).visitor_pass(7, use, 1).to_json())
    assert (wire["decision"], wire["reasons"]) == ("denied", [f"pass_{code}"])


REVOKED = a_pass(SITE)


def test_a_qr_code_that_is_not_a_pass_is_ignored():
    pc = check(every_n_frames=1)
    frame = phone_frame(_background(np.random.default_rng(2)), "https://example.com/menu")
    assert uses(pc, [Frame(frame, 0, 0.0)]) == [] and pc.stats.foreign == 1


def test_the_gate_file_passes_section(tmp_path):
    import base64

    base = {"site": SITE, "gate": GATE, "data_dir": str(tmp_path), "camera": {"source": "x.avi"},
            "mqtt": {"url": "mqtt://127.0.0.1:1883"}}
    cfg = parse_gate_config({**base, "passes": {"public_key": base64.b64encode(PUB).decode()}})
    assert (cfg.passes.key_bytes(), cfg.passes.every_n_frames, cfg.passes.repeat_s) == (PUB, 3, 10.0)
    assert parse_gate_config(base).passes.key_bytes() is None  # no key: passes are off
    with pytest.raises(GateConfigError, match=r"passes\.public_key: .*32 bytes, this one is 16"):
        parse_gate_config({**base, "passes": {"public_key": base64.b64encode(b"x" * 16).decode()}})
    with pytest.raises(GateConfigError, match=r"passes\.public_key: .*not base64"):
        parse_gate_config({**base, "passes": {"public_key": "not a key!"}})


@pytest.fixture(scope="module")
def face():
    from edge.face.engine import FaceEngine

    return FaceEngine.load()


def test_a_revocation_arriving_with_a_new_gallery_takes_effect_at_the_gate(tmp_path, face):
    """The real agent, its outbox and a dry-run door, fed the video's frames (its link never
    started: nothing here needs a broker)."""
    import base64

    from edge.agent.agent import GateAgent

    p = a_pass(SITE, (GATE,), "res-7")
    token = sign_pass(p, KEY)
    video = write_pass_video(tmp_path / "v.avi", {token: (0.5, 2.0)}, seconds=2.5)
    cfg = parse_gate_config({"site": SITE, "gate": GATE, "data_dir": str(tmp_path / "data"),
                             "camera": {"source": str(video)}, "mqtt": {"url": "mqtt://127.0.0.1:1"},
                             "passes": {"public_key": base64.b64encode(PUB).decode(), "repeat_s": 5}})
    agent = GateAgent(cfg, engine=face)
    try:
        frames = read_frames(video)
        for f in frames:
            agent._process(f)
        # the office revokes the pass: the server's next gallery file carries it
        g = Gallery(face.pack, face.dim, version=agent.gallery.version + 1)
        g.revoked_passes = frozenset({str(p.pass_id)})
        agent._inbox.put(("gallery", Gallery.from_bytes(g.to_bytes())))
        agent._apply_inbox()
        for f in frames:  # the visitor tries again, 10 s later
            agent._process(Frame(f.image, f.index + len(frames), f.timestamp + 10))
        events = [json.loads(payload) for _seq, payload in agent.outbox.pending(0, 100)]
        door = [(a.cause, a.event_seq) for a in agent.door.actuations]
    finally:
        agent.outbox.close()
    passes = [(e["decision"], e["reasons"], e["visitor_pass"]) for e in events if "visitor_pass" in e]
    assert passes == [
        ("granted", ["visitor_pass"], {"pass_id": str(p.pass_id), "host_resident_id": "res-7"}),
        ("denied", ["pass_revoked"], {"pass_id": str(p.pass_id), "host_resident_id": "res-7",
                                      "refused": "revoked"}),
    ]
    first_seq = next(e["seq"] for e in events if "visitor_pass" in e)
    assert door == [("visitor_pass", first_seq)]  # opened once, after its event was committed


def test_every_issued_code_is_readable_on_the_phone():
    """Codes differ (uuid, signature): the reader must read all of them, not most (OpenCV's
    classic detector alone missed about one in ten of these)."""
    from edge.vision.qr import QrReader

    reader, bg = QrReader(), _background(np.random.default_rng(3))
    tokens = [sign_pass(a_pass(SITE, (GATE,), "res-42"), KEY) for _ in range(150)]
    assert [t for t in tokens if reader.read(phone_frame(bg, t)) != [t]] == []


def test_a_valid_pass_is_refused_while_the_compound_is_in_lockdown(tmp_path):
    """The level arrives in the gate's remote config (visitor_passes: false) and is asked at each
    code, like the revocation list; lifting it lets the same pass in again."""
    p = a_pass(SITE, (GATE,), "res-42")
    video = write_pass_video(tmp_path / "visit.avi", {sign_pass(p, KEY): (0.5, 1.5)}, seconds=2.0)
    allowed = [False]
    pc = check(allowed=lambda: allowed[0], every_n_frames=3, repeat_s=0.01)
    frames = list(read_frames(video))
    got = uses(pc, frames[:15])  # 15 fps: the phone is in view on frames 7-22
    assert got and all((o.accepted, o.code) == (False, "lockdown") for o in got)
    assert got[0].claims.pass_id == p.pass_id  # a verified pass: the refusal names it (and its host)
    event = EventFactory(SITE, GATE, "in", "dlib-resnet", None).visitor_pass(1, got[0].use(), 4)
    assert (event.decision, event.reasons) == ("denied", ["pass_lockdown"])
    allowed[0] = True
    assert any(o.accepted for o in uses(pc, frames[15:]))
