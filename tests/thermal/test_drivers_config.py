"""Device discovery by USB id, driver error paths, profile and gate-config validation."""

from __future__ import annotations

import pytest

from edge.thermal.config import SensorProfile, list_profiles, load_profile, parse_thermal_config
from edge.thermal.drivers import Mlx90640Source, UvcSource, find_video_device, open_source
from edge.thermal.errors import SensorUnavailable, ThermalConfigError


def _fake_sysfs(tmp_path):
    """/sys/class/video4linux as the kernel lays it out for two UVC cameras: each has a capture
    node (index 0) and a metadata node (index 1); ids sit on the USB device above the interface."""
    devices = tmp_path / "devices"
    v4l = tmp_path / "class" / "video4linux"
    v4l.mkdir(parents=True)
    cams = {"1-1": ("0bda", "5830", [0, 1]), "1-2": ("1e4e", "0100", [2, 3])}
    for port, (vid, pid, nodes) in cams.items():
        usb = devices / "usb1" / port
        intf = usb / f"{port}:1.0"
        intf.mkdir(parents=True)
        (usb / "idVendor").write_text(vid + "\n")
        (usb / "idProduct").write_text(pid + "\n")
        for i, n in enumerate(nodes):
            node = v4l / f"video{n}"
            node.mkdir()
            (node / "index").write_text(f"{i}\n")
            (node / "device").symlink_to(intf)
    return v4l


def test_find_video_device_by_usb_id(tmp_path):
    v4l = _fake_sysfs(tmp_path)
    assert find_video_device("1e4e:0100", v4l) == "/dev/video2"
    assert find_video_device("0BDA:5830", v4l) == "/dev/video0"
    assert find_video_device("dead:beef", v4l) is None
    assert find_video_device("1e4e:0100", tmp_path / "missing") is None


def test_uvc_source_missing_device_is_unavailable_not_a_crash():
    prof = load_profile("lepton35-purethermal")
    src = UvcSource(prof, device="/dev/video-does-not-exist")
    with pytest.raises(SensorUnavailable):
        src.open()
    src.close()
    with pytest.raises(SensorUnavailable):
        UvcSource(prof.model_copy(update={"usb_id": "dead:beef"})).open()


def test_mlx_source_without_bus_is_unavailable():
    src = Mlx90640Source(load_profile("mlx90640"), bus="/dev/i2c-250")
    with pytest.raises(SensorUnavailable):
        src.open()
    assert isinstance(open_source(load_profile("mlx90640")), Mlx90640Source)
    assert isinstance(open_source(load_profile("p2pro")), UvcSource)


def test_shipped_profiles_validate():
    profs = {p.name: p for p in list_profiles()}
    assert set(profs) == {"lepton35-purethermal", "p2pro", "mlx90640"}
    for p in profs.values():
        assert p.emissivity == 0.98
    assert profs["lepton35-purethermal"].resolution == (160, 120)
    assert profs["p2pro"].resolution == (256, 192)
    assert load_profile("lepton35-purethermal").telemetry == "footer"


@pytest.mark.parametrize("change,field", [
    ({"resolution": [160, 122]}, "resolution"),
    ({"emissivity": 1.5}, "emissivity"),
    ({"format": "flir-one"}, "format"),
    ({"usb_id": None}, "usb_id"),
    ({"frame_rate_hz": 0}, "frame_rate_hz"),
])
def test_bad_profile_names_the_field(tmp_path, change, field):
    good = load_profile("lepton35-purethermal").model_dump(mode="json")
    good.update(change)
    import yaml

    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(good))
    with pytest.raises(ThermalConfigError, match=field):
        load_profile(str(path))
    with pytest.raises(Exception):  # noqa: B017 — pydantic or our error, both must refuse
        SensorProfile.model_validate(good)


def test_unknown_profile_lists_known_ones():
    with pytest.raises(ThermalConfigError, match="p2pro"):
        load_profile("flir-one")


def test_gate_config_defaults_and_field_errors():
    cfg = parse_thermal_config({})
    assert cfg.threshold_c == 37.3 and cfg.policy == "soft" and cfg.offset_c == 0.0
    assert parse_thermal_config({"threshold_c": 38.0, "policy": "hard"}).threshold_c == 38.0
    with pytest.raises(ThermalConfigError, match=r"thermal\.policy"):
        parse_thermal_config({"policy": "maybe"})
    with pytest.raises(ThermalConfigError, match=r"thermal\.homography"):
        parse_thermal_config({"homography": [[0, 0, 0], [0, 0, 0], [0, 0, 0]]})
    with pytest.raises(ThermalConfigError, match=r"thermal\.compensation\.ambient_coeff_canthus"):
        parse_thermal_config({"compensation": {"ambient_coeff_canthus": 3}})
    with pytest.raises(ThermalConfigError, match=r"thermal\.blackbody\.region"):
        parse_thermal_config({"blackbody": {"region": [0, 0, 0, 5], "temperature_c": 35}})
    with pytest.raises(ThermalConfigError, match=r"thermal\.colour"):
        parse_thermal_config({"colour": "red"})
