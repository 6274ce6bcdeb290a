"""The gate file: the issue's keys work as written, errors name the field, paths are the file's."""

from __future__ import annotations

import pytest

from edge.agent.config import GateConfigError, load_gate_config
from menwei.cli import main

EXAMPLE = """\
site: SITE_ID
gate: GATE_ID
direction: in            # or out
data_dir: /var/lib/menwei/gate   # outbox, seq, gallery cache
camera: {source: /dev/video0}     # or rtsp://..., a video file, a folder
thermal: {sensor: none}           # or sim, lepton-y16, p2pro, mlx90640
door: {driver: dry-run}
mqtt: {url: "mqtt://USER:PASS@HOST:1883"}   # mqtts:// with a CA for TLS
server: {url: "http://HOST:8000"}           # where galleries are downloaded
"""


def test_the_issue_example_loads_exactly_as_written(tmp_path):
    f = tmp_path / "gate.yaml"
    f.write_text(EXAMPLE)
    cfg = load_gate_config(f)
    assert (cfg.site, cfg.gate, cfg.direction, str(cfg.data_dir)) == ("SITE_ID", "GATE_ID", "in", "/var/lib/menwei/gate")
    assert (cfg.camera.source, cfg.thermal.sensor, cfg.door.driver) == ("/dev/video0", "none", "dry-run")


@pytest.mark.parametrize("change, field", [
    ("direction: sideways", "direction"),
    ("camera: {}", "camera.source"),
    ("thermal: {sensor: flir}", "thermal.sensor"),
    ("mqtt: {url: 'http://x'}", "mqtt.url"),
    ("door: {driver: dry-run, open_ms: 5}", "door.open_ms"),
    ("door: {driver: ch340}", "door"),  # a relay board needs its serial port
    ("door: {driver: gpio}", "door"),  # and a GPIO relay its line
    ("door: {driver: ch340, port: /dev/ttyUSB0, channel: 9}", "door.channel"),
    ("door: {inputs: {exit_button: {line: -1}}}", "door.inputs.exit_button.line"),
    ("door: {inputs: {fire_alarm: {line: 5, pull: sideways}}}", "door.inputs.fire_alarm.pull"),
    ("door: {rules: {held_prealarm_s: 30, held_alarm_s: 30}}", "door.rules"),
    ("door: {rules: {anti_passback: always}}", "door.rules.anti_passback"),
    ("policy: {fever: warm}", "policy.fever"),
    ("colour: blue", "colour"),
])
def test_errors_name_the_field(tmp_path, capsys, change, field):
    key = change.split(":")[0]
    lines = [ln for ln in EXAMPLE.splitlines() if not ln.startswith(key + ":")] + [change]
    f = tmp_path / "gate.yaml"
    f.write_text("\n".join(lines) + "\n")
    with pytest.raises(GateConfigError) as err:
        load_gate_config(f)
    assert f"{field}:" in err.value.message
    assert main(["edge", "check-config", str(f)]) == 2
    out = capsys.readouterr()
    assert len(out.err.strip().splitlines()) == 1 and field in out.err


def test_relative_paths_are_the_files_and_bad_yaml_is_one_line(tmp_path, capsys):
    f = tmp_path / "gate.yaml"
    f.write_text(EXAMPLE.replace("/var/lib/menwei/gate", "data").replace("/dev/video0", "walk.avi"))
    cfg = load_gate_config(f)
    assert cfg.data_dir == tmp_path.resolve() / "data" and cfg.camera.source == str(tmp_path.resolve() / "walk.avi")
    f.write_text("site: [unclosed\n")
    assert main(["edge", "check-config", str(f)]) == 2
    assert "not valid YAML (line" in capsys.readouterr().err
    assert main(["edge", "check-config", str(tmp_path / "nope.yaml")]) == 2
