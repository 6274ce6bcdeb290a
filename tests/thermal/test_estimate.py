"""The estimate on simulated scenes rendered into the sensors' raw formats and decoded by the
real decoders: accuracy across distance and ambient, fallbacks, 'unavailable', policy."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from edge.thermal.config import BlackbodyConfig, ThermalConfig, load_profile
from edge.thermal.estimate import CLINICAL_NOTE, apply_policy, estimate
from edge.thermal.registration import fit_registration
from edge.thermal.sim import Scene, SceneEncoder, SimBlackbody, SimFace, decode_raw
from menwei.wire import Temperature, TemperatureStatus


def _calibrated(profile_name: str, seed: int = 0):
    """Encoder + a gate config whose registration comes from `calibrate` on heated-target corners
    at 0.6 m and 1.4 m (with 0.15 px of clicking noise), as an installer would do it. The rig's
    cameras are 3 cm apart, so parallax matters."""
    prof = load_profile(profile_name)
    enc = SceneEncoder(prof, seed=seed)
    rgb, th, dist = [], [], []
    for d in (0.6, 1.4):
        r, t = enc.rig.target_corners(distance_m=d)
        rgb.append(r)
        th.append(t)
        dist += [d] * len(r)
    th = np.vstack(th) + np.random.default_rng(seed).normal(0, 0.15, (len(dist), 2))
    fit = fit_registration(np.vstack(rgb), th, dist)
    cfg = ThermalConfig(sensor=profile_name, **fit.as_config())
    return prof, enc, cfg


def _measure(prof, enc, cfg, scene: Scene, face: SimFace, landmarks: bool = True, frame=None):
    if frame is None:
        frame = decode_raw(prof, enc.encode(dataclasses.replace(scene, faces=(face,)))[0])
    box, canthi = enc.rig.observe(face)
    return estimate(box, canthi if landmarks else None, enc.rig.rgb_size, cfg.H, frame, cfg, prof)


@pytest.mark.parametrize("profile_name", ["lepton35-purethermal", "p2pro"])
def test_self_consistency_within_0_3_c_of_the_simulators_core(profile_name):
    """A self-consistency check, not a measurement of accuracy: the simulator renders faces with the
    same skin/canthus offsets and distance model the estimator inverts, so this shows the estimator
    undoes the simulator (registration, ROI, distance and ambient corrections wired right). Accuracy
    on real people needs a blackbody reference and real captures, which the repository does not have."""
    prof, enc, cfg = _calibrated(profile_name)
    errors = []
    for distance in (0.5, 0.75, 1.0, 1.25, 1.5):
        for ambient in (15.0, 20.0, 25.0, 30.0):
            for x_m, core in ((-0.12, 36.4), (0.0, 37.0), (0.08, 38.2)):
                face = SimFace(distance_m=distance, x_m=x_m, y_m=0.03, core_c=core)
                r = _measure(prof, enc, cfg, Scene(ambient_c=ambient), face)
                assert r.method == "inner_canthus", (distance, ambient, r.flags)
                assert r.distance_m == pytest.approx(distance, rel=0.02)
                errors.append(r.celsius - core)
    errors = np.array(errors)
    assert np.max(np.abs(errors)) <= 0.3, f"worst error {np.max(np.abs(errors)):.3f} °C"


def test_fever_and_normal_status_and_wire_contract():
    prof, enc, cfg = _calibrated("lepton35-purethermal", seed=3)
    fever = _measure(prof, enc, cfg, Scene(ambient_c=22), SimFace(distance_m=0.8, core_c=38.4))
    normal = _measure(prof, enc, cfg, Scene(ambient_c=22), SimFace(distance_m=0.8, core_c=36.7))
    assert fever.status == TemperatureStatus.FEVER and normal.status == TemperatureStatus.NORMAL
    assert fever.note == CLINICAL_NOTE and "clinical re-check" in fever.note
    wire = fever.to_wire()
    assert isinstance(wire, Temperature) and wire.method == "inner_canthus"
    assert wire.celsius == pytest.approx(fever.celsius, abs=0.005)
    assert fever.raw_max_c < fever.celsius  # apparent skin reads below core
    # a stricter gate threshold of 38.5 °C turns the same person "normal"
    strict = cfg.model_copy(update={"threshold_c": 38.5})
    box, canthi = enc.rig.observe(SimFace(distance_m=0.8, core_c=38.4))
    frame = decode_raw(prof, enc.encode(Scene(ambient_c=22, faces=(SimFace(distance_m=0.8, core_c=38.4),)))[0])
    assert estimate(box, canthi, enc.rig.rgb_size, cfg.H, frame, strict, prof).status == TemperatureStatus.NORMAL


def test_policy_hard_denies_soft_alerts():
    prof, enc, cfg = _calibrated("p2pro", seed=4)
    r = _measure(prof, enc, cfg, Scene(ambient_c=24), SimFace(distance_m=1.0, core_c=38.6))
    assert r.status == TemperatureStatus.FEVER
    hard = apply_policy(r, cfg.model_copy(update={"policy": "hard"}))
    soft = apply_policy(r, cfg.model_copy(update={"policy": "soft"}))
    assert hard.deny and hard.alert and soft.alert and not soft.deny
    assert "clinical_recheck_required" in hard.reasons and hard.note == CLINICAL_NOTE
    ok = _measure(prof, enc, cfg, Scene(ambient_c=24), SimFace(distance_m=1.0, core_c=36.6))
    assert apply_policy(ok, cfg).deny is False and apply_policy(ok, cfg).alert is False


def test_fallback_to_face_percentile_without_landmarks():
    prof, enc, cfg = _calibrated("lepton35-purethermal", seed=5)
    r = _measure(prof, enc, cfg, Scene(ambient_c=22), SimFace(distance_m=0.7, core_c=37.0), landmarks=False)
    assert r.method == "face_p95" and "no_eye_landmarks" in r.flags
    assert abs(r.celsius - 37.0) <= 0.3


def test_low_resolution_sensor_too_far_is_unavailable():
    prof, enc, cfg = _calibrated("mlx90640", seed=6)
    near = _measure(prof, enc, cfg, Scene(ambient_c=22), SimFace(distance_m=0.5, core_c=37.0))
    assert near.method == "face_p95" and "canthus_too_few_pixels" in near.flags
    assert abs(near.celsius - 37.0) <= 0.3
    far = _measure(prof, enc, cfg, Scene(ambient_c=22), SimFace(distance_m=1.5, core_c=37.0))
    assert far.status == TemperatureStatus.UNAVAILABLE and far.celsius is None and "too_far" in far.flags


def test_blackbody_corrects_sensor_drift():
    prof, enc, cfg = _calibrated("lepton35-purethermal", seed=7)
    bb = SimBlackbody(region=(150, 2, 6, 6), temperature_c=35.0)
    face = SimFace(distance_m=0.9, core_c=37.2)
    drifted = Scene(ambient_c=22, drift_c=1.4, blackbody=bb)
    plain = _measure(prof, enc, cfg, drifted, face)
    with_bb = cfg.model_copy(update={"blackbody": BlackbodyConfig(region=bb.region, temperature_c=35.0)})
    corrected = _measure(prof, enc, with_bb, drifted, face)
    assert plain.celsius - 37.2 > 1.0  # uncorrected drift shows up in the reading
    assert abs(corrected.celsius - 37.2) <= 0.3 and "blackbody_corrected" in corrected.flags
    # a blackbody reading far from its set point (covered, unpowered) → unavailable, not a guess
    cold = Scene(ambient_c=22, blackbody=SimBlackbody(region=bb.region, temperature_c=25.0))
    r = _measure(prof, enc, with_bb, cold, face)
    assert r.status == TemperatureStatus.UNAVAILABLE and "blackbody_implausible" in r.flags


def test_unavailable_cases():
    prof, enc, cfg = _calibrated("lepton35-purethermal", seed=8)
    face = SimFace(distance_m=1.0, core_c=37.0)
    box, canthi = enc.rig.observe(face)
    assert estimate(box, canthi, enc.rig.rgb_size, cfg.H, None, cfg, prof).flags == ["sensor_unavailable"]
    # a frame taken during flat-field correction
    ffc = decode_raw(prof, enc.encode(Scene(ambient_c=22, faces=(face,), ffc="in_progress"))[0])
    r = estimate(box, canthi, enc.rig.rgb_size, cfg.H, ffc, cfg, prof)
    assert r.status == TemperatureStatus.UNAVAILABLE and "ffc_in_progress" in r.flags
    # room far outside the sensor's compensated range
    r = _measure(prof, enc, cfg, Scene(ambient_c=5.0), face)
    assert r.status == TemperatureStatus.UNAVAILABLE and "ambient_out_of_range" in r.flags
    # a face the RGB camera sees but the thermal camera does not
    frame = decode_raw(prof, enc.encode(Scene(ambient_c=22, faces=(face,)))[0])
    r = estimate((5, 5, 30, 40), None, enc.rig.rgb_size, cfg.H, frame, cfg, prof)
    assert r.status == TemperatureStatus.UNAVAILABLE and r.celsius is None
    # nothing warm where the face should be (a photograph held up): no number
    empty = decode_raw(prof, enc.encode(Scene(ambient_c=22))[0])
    r = estimate(box, canthi, enc.rig.rgb_size, cfg.H, empty, cfg, prof)
    assert r.status == TemperatureStatus.UNAVAILABLE and "implausible_skin_temperature" in r.flags
    assert r.to_wire() == Temperature(celsius=None, status=TemperatureStatus.UNAVAILABLE, method=None)


def test_ambient_sources_agree_on_a_uniform_room():
    prof, enc, cfg = _calibrated("lepton35-purethermal", seed=9)
    face = SimFace(distance_m=1.0, core_c=37.0)
    frame = decode_raw(prof, enc.encode(Scene(ambient_c=27.0, faces=(face,)))[0])
    box, canthi = enc.rig.observe(face)
    readings = {}
    for src in ("sensor", "background", "fixed"):
        comp = cfg.compensation.model_copy(update={"ambient_source": src, "ambient_fixed_c": 27.0})
        readings[src] = estimate(box, canthi, enc.rig.rgb_size, cfg.H, frame,
                                 cfg.model_copy(update={"compensation": comp}), prof)
    for r in readings.values():
        assert r.ambient_c == pytest.approx(27.0, abs=0.1)
    assert "ambient_background" in readings["background"].flags


def test_bad_inputs():
    from edge.thermal.errors import ThermalError

    prof, enc, cfg = _calibrated("p2pro", seed=10)
    face = SimFace(distance_m=0.9, core_c=37.0)
    frame = decode_raw(prof, enc.encode(Scene(ambient_c=22, faces=(face,)))[0])
    box, _ = enc.rig.observe(face)
    with pytest.raises(ThermalError, match="face box"):
        estimate((10, 10, 0, 50), None, enc.rig.rgb_size, cfg.H, frame, cfg, prof)
    r = estimate(box, ((float("nan"), 1.0), (2.0, 3.0)), enc.rig.rgb_size, cfg.H, frame, cfg, prof)
    assert r.method == "face_p95" and "eye_landmarks_invalid" in r.flags
