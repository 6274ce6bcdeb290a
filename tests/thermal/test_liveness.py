"""Liveness on simulated scenes in every sensor's raw byte format, through the real decoders.

What each scene IS comes from what was rendered (a SimFace or a SimSpoof, its size in thermal
pixels, its surface temperature against the room), never from the liveness code's output."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from edge.thermal import liveness as lv
from edge.thermal.config import load_profile
from edge.thermal.errors import ThermalConfigError, ThermalError
from edge.thermal.sim import SPOOF_KINDS, Scene, SceneEncoder, SimFace, SimSpoof, decode_raw, spoof_for_face

PROFILES = {"lepton-y16": "lepton35-purethermal", "p2pro": "p2pro", "mlx90640": "mlx90640"}
# distances at which each sensor sees a face at least min_structure_px (12) pixels wide: the
# MLX90640's 32 columns give a face that many pixels only within arm's length
STRUCTURE_DISTANCES = {"lepton-y16": (0.5, 0.8, 1.2, 1.5), "p2pro": (0.5, 1.0, 1.5), "mlx90640": (0.3, 0.35)}
AMBIENTS = (18.0, 24.0, 30.0)
CFG = lv.LivenessConfig()


def _encoder(fmt: str, seed: int = 3) -> SceneEncoder:
    return SceneEncoder(load_profile(PROFILES[fmt]), seed=seed)


def _render(enc: SceneEncoder, scene: Scene):
    return decode_raw(enc.profile, enc.encode(scene)[0])


def _face_scene(enc, face: SimFace, ambient: float, spoof: str | None = None):
    """The frame, the true face box in thermal pixels and the rendered face's/attack's truth."""
    scene = Scene(ambient_c=ambient, faces=(face,)) if spoof is None else \
        Scene(ambient_c=ambient, spoofs=(spoof_for_face(spoof, face),))
    box, canthi = enc.rig.observe_thermal(face)
    return _render(enc, scene), box, canthi, scene


def _expected(scene: Scene, box) -> bool | None:
    """Ground truth → verdict: a rendered face is live, a rendered attack is not; too few thermal
    pixels for a face's structure leave it unknown unless the surface is not warmer than the room
    by the margin (a surface at room temperature is no living face at any resolution)."""
    if box[2] >= CFG.min_structure_px:
        return bool(scene.faces)
    if scene.spoofs and scene.spoofs[0].base_c(scene.ambient_c) < scene.ambient_c + CFG.warm_margin_c:
        return False
    return None


@pytest.mark.parametrize("fmt", PROFILES)
@pytest.mark.parametrize("ambient", AMBIENTS)
@pytest.mark.parametrize("kind", ["bare", "mask", "mask_breath_warmed", "fever"])
def test_live_faces_are_live(fmt, ambient, kind):
    enc = _encoder(fmt)
    for d in STRUCTURE_DISTANCES[fmt]:
        face = SimFace(distance_m=d, x_m=0.03, y_m=0.02, core_c=38.9 if kind == "fever" else 36.8,
                       mask=kind.startswith("mask"), mask_delta_c=1.5 if kind == "mask_breath_warmed" else -2.5)
        frame, box, canthi, scene = _face_scene(enc, face, ambient)
        assert _expected(scene, box) is True
        r = lv.assess(frame, box, ambient_c=ambient)
        assert r.live is True, (fmt, ambient, kind, d, r)
        assert r.reasons == (lv.WARM_MARGIN_OK, lv.CANTHUS_HOTSPOT, lv.FACE_TEXTURE_OK)
        assert 0.5 <= r.score <= 1.0
        # the eye landmarks, when the face engine gives them, lead to the same verdict
        assert lv.assess(frame, box, ambient_c=ambient, canthi=canthi).live is True


@pytest.mark.parametrize("fmt", PROFILES)
@pytest.mark.parametrize("ambient", AMBIENTS)
@pytest.mark.parametrize("spoof", SPOOF_KINDS)
def test_spoofs_are_not_live(fmt, ambient, spoof):
    enc = _encoder(fmt)
    for d in STRUCTURE_DISTANCES[fmt]:
        face = SimFace(distance_m=d, x_m=-0.02)
        frame, box, canthi, scene = _face_scene(enc, face, ambient, spoof)
        assert _expected(scene, box) is False
        r = lv.assess(frame, box, ambient_c=ambient)
        assert r.live is False, (fmt, ambient, spoof, d, r)
        assert 0.0 <= r.score < 0.5
        assert lv.NO_CANTHUS_HOTSPOT in r.reasons  # no attack in the simulator has an eye region
        sp = scene.spoofs[0]
        warm = sp.base_c(ambient) >= ambient + CFG.warm_margin_c
        assert (lv.WARM_MARGIN_OK if warm else lv.NOT_WARMER_THAN_AMBIENT) in r.reasons
        if sp.kind != "printed_photo":  # screens and tablets are one temperature all over
            assert lv.FLAT_UNIFORM in r.reasons
        assert lv.assess(frame, box, ambient_c=ambient, canthi=canthi).live is False


def test_warmed_tablet_is_refused_for_its_structure_not_its_warmth():
    """The hard case: as warm as a face, so only the missing canthus and the flatness give it away."""
    enc = _encoder("lepton-y16")
    face = SimFace(distance_m=0.8)
    frame, box, _, _ = _face_scene(enc, face, 22.0, "tablet_warm")
    r = lv.assess(frame, box, ambient_c=22.0)
    assert r.live is False
    assert r.reasons == (lv.WARM_MARGIN_OK, lv.NO_CANTHUS_HOTSPOT, lv.FLAT_UNIFORM)


@pytest.mark.parametrize("fmt", PROFILES)
def test_far_faces_are_unknown_but_a_room_temperature_photo_is_refused(fmt):
    """Beyond the distance where the face spans min_structure_px, only warmth is judged."""
    enc = _encoder(fmt)
    d = 3.5 if fmt != "mlx90640" else 1.0
    face = SimFace(distance_m=d)
    for spoof in (None, *SPOOF_KINDS):
        frame, box, _, scene = _face_scene(enc, face, 22.0, spoof)
        assert box[2] < CFG.min_structure_px
        r = lv.assess(frame, box, ambient_c=22.0)
        assert r.live is _expected(scene, box), (spoof, r)
        assert r.reasons[0] == lv.FACE_TOO_SMALL


def test_ambient_from_the_frame_background():
    """Without --ambient the room is read off the frame's border: same verdicts at 1 m."""
    for fmt in ("lepton-y16", "p2pro"):
        enc = _encoder(fmt)
        face = SimFace(distance_m=1.0)
        for ambient in AMBIENTS:
            for spoof in (None, *SPOOF_KINDS):
                frame, box, _, scene = _face_scene(enc, face, ambient, spoof)
                r = lv.assess(frame, box)
                assert r.live is _expected(scene, box), (fmt, ambient, spoof, r)
                assert r.ambient_c == pytest.approx(ambient, abs=0.3)


def test_unknown_without_a_usable_frame_or_outside_it():
    enc = _encoder("lepton-y16")
    face = SimFace(distance_m=1.0)
    box, _ = enc.rig.observe_thermal(face)
    assert lv.assess(None, box) == lv.LivenessResult(None, 0.0, (lv.NO_FRAME,))
    ffc = _render(enc, Scene(ambient_c=22.0, faces=(face,), ffc="in_progress"))
    assert not ffc.usable
    assert lv.assess(ffc, box).reasons == (lv.FRAME_NOT_USABLE,) and lv.assess(ffc, box).live is None
    frame = _render(enc, Scene(ambient_c=22.0, faces=(face,)))
    out = lv.assess(frame, (500.0, 300.0, 20.0, 25.0))
    assert out.live is None and out.reasons == (lv.FACE_OUTSIDE_FRAME,)
    tiny = lv.assess(frame, (box[0], box[1], 2.0, 2.5))
    assert tiny.live is None and tiny.reasons == (lv.FACE_TOO_SMALL,)


def test_a_uniform_warm_rectangle_built_by_hand():
    """Independent of the simulator's optics: a 36 °C rectangle on a 22 °C frame."""
    from edge.thermal.frame import ThermalFrame

    rng = np.random.default_rng(0)
    img = 22.0 + rng.normal(0, 0.05, (120, 160))
    img[30:90, 50:110] = 36.0 + rng.normal(0, 0.05, (60, 60))
    r = lv.assess(ThermalFrame(img.astype(np.float32), "lepton-y16", 0.0), (55, 35, 45, 55))
    assert r.live is False and r.reasons == (lv.WARM_MARGIN_OK, lv.NO_CANTHUS_HOTSPOT, lv.FLAT_UNIFORM)


def test_a_hot_spot_outside_the_eye_band_is_no_canthus():
    """A warm spot at the top of the box (a hot forehead lamp, a phone's SoC) is not a canthus."""
    from edge.thermal.frame import ThermalFrame

    rng = np.random.default_rng(1)
    img = 22.0 + rng.normal(0, 0.05, (120, 160))
    img[30:90, 50:110] = 34.0 + rng.normal(0, 0.05, (60, 60))
    img[34:37, 70:90] = 37.0  # rows 0.07..0.12 of the box: above the eye band
    img[40:50, 60:100] += np.linspace(0, 1.0, 40)  # some texture, so only the hot-spot check fails
    r = lv.assess(ThermalFrame(img.astype(np.float32), "lepton-y16", 0.0), (50, 30, 60, 60), ambient_c=22.0)
    assert r.live is False and lv.NO_CANTHUS_HOTSPOT in r.reasons and lv.FACE_TEXTURE_OK in r.reasons


def test_every_reason_code_is_produced():
    enc = _encoder("lepton-y16")
    seen: set[str] = set()
    face = SimFace(distance_m=1.0)
    box, _ = enc.rig.observe_thermal(face)
    seen |= set(lv.assess(None, box).reasons)
    seen |= set(lv.assess(_render(enc, Scene(faces=(face,), ffc="in_progress")), box).reasons)
    frame = _render(enc, Scene(faces=(face,)))
    seen |= set(lv.assess(frame, (900.0, 900.0, 10.0, 10.0)).reasons)
    seen |= set(lv.assess(frame, (box[0], box[1], 2.0, 2.0)).reasons)
    seen |= set(lv.assess(frame, box).reasons)
    for spoof in SPOOF_KINDS:
        f, b, _, _ = _face_scene(enc, face, 22.0, spoof)
        seen |= set(lv.assess(f, b).reasons)
    assert seen == set(lv.REASONS)


def test_score_is_monotone_in_the_evidence():
    """A face a little warmer than the room scores lower than a normal one, a spoof lower still."""
    enc = _encoder("lepton-y16")
    face = SimFace(distance_m=0.8)
    live, box, _, _ = _face_scene(enc, face, 22.0)
    cold, _, _, _ = _face_scene(enc, replace(face, core_c=36.8, skin_c=24.0, canthus_c=24.3), 22.0)
    photo, _, _, _ = _face_scene(enc, face, 22.0, "printed_photo")
    s_live, s_cold, s_photo = (lv.assess(f, box, ambient_c=22.0).score for f in (live, cold, photo))
    assert s_live > 0.5 > s_cold and s_live > s_photo
    assert lv.assess(cold, box, ambient_c=22.0).reasons[0] == lv.NOT_WARMER_THAN_AMBIENT


@pytest.mark.parametrize("data, field", [({"warm_margin_c": 0}, "liveness.warm_margin_c"),
                                         ({"eye_band": (0.7, 0.2)}, "eye_band"),
                                         ({"min_warm_px": 20}, "min_warm_px"),
                                         ({"flat_stdc": 0.2}, "flat_stdc")])
def test_config_errors_name_the_field(data, field):
    with pytest.raises(ThermalConfigError) as exc:
        lv.load_liveness_config(data)
    assert field in str(exc.value)


def test_defaults_and_a_bad_box():
    assert lv.load_liveness_config(None) == lv.LivenessConfig()
    enc = _encoder("lepton-y16")
    frame = _render(enc, Scene(faces=(SimFace(),)))
    with pytest.raises(ThermalError):
        lv.assess(frame, (10, 10, 0, 5))
    with pytest.raises(ThermalError):
        lv.assess(frame, (float("nan"), 10, 5, 5))


def test_simspoof_rejects_an_unknown_kind():
    with pytest.raises(ValueError, match="kind"):
        SimSpoof("mannequin")


def test_the_gate_files_thermal_liveness_section():
    from edge.pipeline.thermal_reading import ThermalReader
    from edge.thermal.config import parse_thermal_config

    cfg = parse_thermal_config({"liveness": {"warm_margin_c": 4.5}})
    assert cfg.liveness.warm_margin_c == 4.5 and parse_thermal_config(None).liveness == lv.LivenessConfig()
    with pytest.raises(ThermalConfigError, match=r"thermal\.liveness\.flat_std_c"):
        parse_thermal_config({"liveness": {"flat_std_c": -1}})
    reader = ThermalReader(frames=None, config=cfg, profile=load_profile("lepton35-purethermal"))
    assert reader.liveness_config.warm_margin_c == 4.5
