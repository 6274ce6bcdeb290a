"""Box temperatures from sysfs thermal zones (a tree written in the kernel's own format) and RSS."""

from __future__ import annotations

from edge.agent.host import box_temperatures, rss_mb


def _zone(root, n: int, kind: str, temp: str | None) -> None:
    z = root / f"thermal_zone{n}"
    z.mkdir(parents=True)
    (z / "type").write_text(kind + "\n")
    if temp is not None:
        (z / "temp").write_text(temp + "\n")


def test_zones_in_millidegrees_named_by_type(tmp_path):
    # as on a Raspberry Pi 4 (one cpu-thermal zone) plus an RK3588's repeated soc zones
    _zone(tmp_path, 0, "cpu-thermal", "48686")
    _zone(tmp_path, 1, "soc-thermal", "51000")
    _zone(tmp_path, 2, "soc-thermal", "-1500")
    _zone(tmp_path, 3, "gpu-thermal", None)  # no temp file: sensor absent
    _zone(tmp_path, 4, "npu-thermal", "garbage")
    (tmp_path / "cooling_device0").mkdir()  # not a zone
    assert box_temperatures(tmp_path) == {"cpu-thermal": 48.7, "soc-thermal": 51.0,
                                          "soc-thermal.thermal_zone2": -1.5}


def test_no_thermal_zones_is_an_empty_report(tmp_path):
    assert box_temperatures(tmp_path / "absent") == {}


def test_rss_from_proc_status(tmp_path):
    status = tmp_path / "status"
    status.write_text("Name:\tpython\nVmPeak:\t 900000 kB\nVmRSS:\t  204800 kB\nThreads:\t12\n")
    assert rss_mb(status) == 200.0
    assert rss_mb(tmp_path / "none") is None
    assert 5 < rss_mb() < 100_000  # this test process, read from the real /proc
