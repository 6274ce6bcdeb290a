"""The systemd units, udev rules and journald drop-in in deploy/: systemd itself parses the units
(`systemd-analyze verify` warns about any unknown key or bad value), and the udev rules cover
every USB device the device profiles name, with groups the gate service is in."""

from __future__ import annotations

import configparser
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from menwei.bundle import default_install_dir

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
UNITS = sorted((DEPLOY / "systemd").glob("*.service"))
EXE = "/opt/menwei/venv/bin/menwei"


def _unit(path: Path) -> configparser.ConfigParser:
    cp = configparser.ConfigParser(strict=False, interpolation=None, delimiters=("=",))
    cp.optionxform = str  # keys are case-sensitive in systemd
    cp.read_string(path.read_text())
    return cp


def test_there_are_units_for_the_gate_the_server_and_extra_ingest_workers():
    assert {u.name for u in UNITS} == {"menwei-gate@.service", "menwei-server.service", "menwei-ingest@.service"}


@pytest.mark.parametrize("unit", UNITS, ids=lambda p: p.name)
def test_systemd_accepts_the_unit_without_a_warning(unit, tmp_path):
    if not shutil.which("systemd-analyze"):
        pytest.fail("systemd-analyze is needed (Debian package systemd)", pytrace=False)
    name = unit.name.replace("@.", "@east-in.")  # a template is verified as one of its instances
    text = unit.read_text()
    assert EXE in text
    (tmp_path / name).write_text(text.replace(EXE, shutil.which("true")))
    out = subprocess.run(["systemd-analyze", "verify", str(tmp_path / name)], capture_output=True, text=True)
    assert out.returncode == 0 and not (out.stdout + out.stderr).strip(), out.stdout + out.stderr


@pytest.mark.parametrize("unit", UNITS, ids=lambda p: p.name)
def test_unit_restarts_and_is_hardened(unit):
    svc = _unit(unit)["Service"]
    assert svc["Restart"] in ("always", "on-failure")
    assert svc["User"] == "menwei"
    for key, want in [("NoNewPrivileges", "yes"), ("ProtectSystem", "strict"), ("ProtectHome", "yes"),
                      ("PrivateTmp", "yes"), ("CapabilityBoundingSet", ""), ("UMask", "0077")]:
        assert svc.get(key) == want, f"{unit.name}: {key}"


def test_long_running_services_are_watched():
    for name in ("menwei-gate@.service", "menwei-server.service"):
        svc = _unit(DEPLOY / "systemd" / name)["Service"]
        assert svc["Type"] == "notify" and int(svc["WatchdogSec"]) > 0, name


def test_gate_unit_reaches_its_devices_and_nothing_else():
    svc = _unit(DEPLOY / "systemd" / "menwei-gate@.service")["Service"]
    assert svc["DevicePolicy"] == "closed"
    groups = set(svc["SupplementaryGroups"].split())
    assert groups == {"video", "dialout", "i2c", "gpio"}
    rules = _udev_rules()
    assert {r["GROUP"] for r in rules} <= groups, "a rule hands a device to a group the service is not in"
    assert svc["ExecStart"].endswith("edge run --config /etc/menwei/%i/gate.yaml")
    assert default_install_dir("east-in") / "gate.yaml" == Path("/etc/menwei/east-in/gate.yaml")  # edge install
    assert svc["StateDirectory"] == "menwei/%i"


def _udev_rules() -> list[dict[str, str]]:
    rules = []
    for line in (DEPLOY / "udev" / "60-menwei.rules").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        rule = {}
        for part in (p.strip() for p in line.split(",")):
            m = re.fullmatch(r'([A-Z]+(?:\{[a-zA-Z_]+\})?)(==|\+=|=)"([^"]*)"', part)
            assert m, f"not a udev key/value pair: {part!r}"
            rule[m[1]] = m[3]
        rules.append(rule)
    return rules


def _profile_usb_ids() -> dict[str, str]:
    ids = {}
    for path in (REPO / "firmware_configs").glob("*/*.yaml"):
        usb = yaml.safe_load(path.read_text()).get("usb_id")
        if usb:
            ids[usb] = path.stem
    return ids


def test_every_usb_device_of_the_profiles_has_a_rule_and_a_stable_name():
    by_id = {f'{r["ATTRS{idVendor}"]}:{r["ATTRS{idProduct}"]}': r for r in _udev_rules() if "ATTRS{idVendor}" in r}
    profiles = _profile_usb_ids()
    assert {"1e4e:0100", "0bda:5830", "1a86:7523"} <= set(profiles)  # Lepton, P2 Pro, CH340 relay
    for usb, profile in profiles.items():
        rule = by_id.get(usb)
        assert rule, f"no udev rule for {profile} ({usb})"
        assert rule["MODE"] == "0660" and rule["SYMLINK"].startswith("menwei/")
    assert by_id["1a86:7523"]["SUBSYSTEM"] == "tty" and by_id["1a86:7523"]["GROUP"] == "dialout"


def test_i2c_and_gpio_character_devices_are_handed_to_their_groups():
    by_subsystem = {r["SUBSYSTEM"]: r for r in _udev_rules()}
    assert by_subsystem["i2c-dev"]["GROUP"] == "i2c"
    assert by_subsystem["gpio"]["GROUP"] == "gpio" and by_subsystem["gpio"]["KERNEL"].startswith("gpiochip")


def test_journald_drop_in_caps_disk_use_and_age():
    cp = configparser.ConfigParser()
    cp.optionxform = str
    cp.read_string((DEPLOY / "journald" / "menwei.conf").read_text())
    j = cp["Journal"]
    assert j["SystemMaxUse"].endswith("M") and int(j["SystemMaxUse"][:-1]) <= 500
    assert j["MaxRetentionSec"] == "30day"


@pytest.mark.parametrize("role", ["gate", "server"])
def test_install_host_puts_the_files_where_the_units_expect_them(role, tmp_path):
    root = tmp_path / "root"
    out = subprocess.run([str(DEPLOY / "install-host"), role], env={"PATH": "/usr/bin:/bin", "DESTDIR": str(root),
                                                                   "SKIP_VENV": "1"},
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    units = {p.name for p in (root / "etc/systemd/system").iterdir()}
    rules = root / "etc/udev/rules.d/60-menwei.rules"
    if role == "gate":
        assert units == {"menwei-gate@.service"} and rules.read_bytes() == (DEPLOY / "udev/60-menwei.rules").read_bytes()
    else:
        assert units == {"menwei-server.service", "menwei-ingest@.service"} and not rules.exists()
    assert (root / "etc/systemd/journald.conf.d/menwei.conf").is_file()
    assert (root / "etc/menwei").stat().st_mode & 0o777 == 0o750


def test_install_host_refuses_a_role_it_does_not_know(tmp_path):
    out = subprocess.run([str(DEPLOY / "install-host"), "printer"], env={"PATH": "/usr/bin:/bin", "DESTDIR": str(tmp_path)},
                         capture_output=True, text=True)
    assert out.returncode == 2 and "install-host gate" in out.stderr
