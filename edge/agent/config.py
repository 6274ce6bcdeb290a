"""The gate file (YAML): which compound and gate, where its data lives, which camera, sensor and
door, which broker and server. Errors name the field (`camera.source: ...`).

    site: SITE_ID
    gate: GATE_ID
    direction: in            # or out
    data_dir: /var/lib/menwei/gate   # outbox, seq, gallery cache
    camera: {source: /dev/video0}     # or rtsp://..., a video file, a folder, synthetic:NAME
    thermal: {sensor: none}           # or sim, lepton-y16, p2pro, mlx90640 (+ edge.thermal ThermalConfig keys)
    door: {driver: dry-run}
    mqtt: {url: "mqtt://USER:PASS@HOST:PORT"}   # mqtts://...?ca=/path/ca.pem for TLS
    server: {url: "http://HOST:PORT"}           # where galleries are downloaded

Optional: `camera.profile`/`camera.realtime`, `door.open_ms`, `door.inputs` (contacts on GPIO),
`door.rules` (held-open times, anti-passback), `door.passback_file`, `mqtt.inflight`/`session_expiry_s`,
`outbox.max_events`, `commands.ttl_s`, `gallery.folder` (enrol a folder of photos when no server
gallery is cached yet), `page:` (the gate's own status page; none without it), and
`policy:`/`pipeline:` (the defaults a server config replaces).
gallery is cached yet), `passes: {public_key, every_n_frames, repeat_s}` (visitor passes; none
without a key), and `policy:`/`pipeline:` (the defaults a server config replaces).
"""

from __future__ import annotations

import base64
import binascii
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from edge.agent.remote_config import RemoteGateConfig
from edge.door.rules import RulesConfig
from edge.pipeline.types import PipelineConfig
from edge.policy.config import PolicyConfig
from menwei.errors import MenweiError, fields_error
from menwei.mqtt import BrokerUrl, MqttError

_ID = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")
# the sensor names → the thermal profiles in firmware_configs/thermal
SENSOR_PROFILES = {"lepton-y16": "lepton35-purethermal", "p2pro": "p2pro", "mlx90640": "mlx90640"}


class GateConfigError(MenweiError):
    code = "bad_config"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CameraSection(_Section):
    source: str = Field(min_length=1)
    profile: str | None = None  # firmware_configs/cameras/<name>.yaml for /dev/videoN
    realtime: bool | None = None  # files: at their own fps (default) or as fast as possible (false)
    stall_timeout_s: float = Field(2.0, gt=0, le=60)


class ThermalSection(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)  # the rest is edge.thermal ThermalConfig
    sensor: str = "none"
    truth: Path | None = None  # sim: the scene's ground truth (default: the video's .truth.json)

    @field_validator("sensor")
    @classmethod
    def _known(cls, v: str) -> str:
        if v not in ("none", "sim", *SENSOR_PROFILES, *SENSOR_PROFILES.values()):
            raise ValueError(f"unknown sensor {v!r} (none, sim, {', '.join(SENSOR_PROFILES)})")
        return v


class InputLine(_Section):
    line: int = Field(ge=0, le=1023, description="the contact's GPIO line on the chip")
    active_low: bool = Field(False, description="active (pressed, open, alarm) at a low level")
    pull: Literal["up", "down", "none"] = "none"


class DoorInputsSection(_Section):
    """The door's contacts on the box's GPIO (docs/GATE.md, "Wiring")."""

    chip: str = Field("/dev/gpiochip0", description="the GPIO chip of the inputs")
    door_contact: InputLine | None = Field(default=None, description="active while the leaf is open")
    exit_button: InputLine | None = Field(default=None, description="active while pressed (request to exit)")
    fire_alarm: InputLine | None = Field(default=None, description="active while the fire panel is in alarm")
    poll_ms: int = Field(20, ge=5, le=500)


class DoorSection(_Section):
    driver: Literal["dry-run", "ch340", "gpio"] = "dry-run"
    profile: str | None = Field(default=None, description="firmware_configs/doors/<name>.yaml (wiring, channel)")
    port: str | None = Field(default=None, description="the relay board's serial port, e.g. /dev/ttyUSB0")
    channel: int | None = Field(default=None, ge=1, le=4, description="which relay (default: the profile's, or 1)")
    chip: str = Field("/dev/gpiochip0", description="gpio: the GPIO chip")
    line: int | None = Field(default=None, ge=0, le=1023, description="gpio: the relay's line on the chip")
    active_low: bool = Field(False, description="gpio: the relay board switches on a low level")
    open_ms: int = Field(3000, ge=100, le=60000)
    inputs: DoorInputsSection | None = None
    rules: RulesConfig = Field(default_factory=RulesConfig)
    # the in and out gates of one box name the same file for anti-passback (default: this gate's own)
    passback_file: Path | None = None

    @model_validator(mode="after")
    def _port(self) -> DoorSection:
        if self.driver == "ch340" and not self.port:
            raise ValueError("driver ch340 needs `port` (the board's serial device, e.g. /dev/ttyUSB0)")
        if self.driver == "gpio" and self.line is None:
            raise ValueError("driver gpio needs `line` (the relay's GPIO line, e.g. 17)")
        return self


class MqttSection(_Section):
    url: str
    inflight: int = Field(50, ge=1, le=1000)
    session_expiry_s: int = Field(86400, ge=0, le=30 * 86400)
    resend_after_s: float = Field(20.0, gt=0, le=3600)

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        try:
            BrokerUrl.parse(v)
        except MqttError as exc:
            raise ValueError(exc.message) from None
        return v


class ServerSection(_Section):
    url: str = Field(pattern=r"^https?://")


class OutboxSection(_Section):
    max_events: int = Field(100_000, ge=10, le=10_000_000)


class CommandsSection(_Section):
    ttl_s: float = Field(30.0, gt=0, le=600)


class GallerySection(_Section):
    folder: Path | None = None
    # a gate with no gallery at all (first boot) waits this long for the server's before it
    # decides: otherwise everyone would be "unknown" for the first seconds
    wait_s: float = Field(15.0, ge=0, le=600)


class PageSection(_Section):
    """The gate's local status page (edge/page/): behind one account whose password is stored hashed."""

    listen: str = Field("127.0.0.1:8080", description="HOST:PORT to serve on (0.0.0.0:8080 for the LAN)")
    user: str = Field("guard", min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$",
                      description="the account name; local opens are logged as operator local:<user>")
    password_hash: str = Field(description="from `menwei edge page-password` (salted scrypt, never the password)")
    session_ttl_s: int = Field(12 * 3600, ge=60, le=7 * 86400, description="a login lasts this long")

    @field_validator("listen")
    @classmethod
    def _listen(cls, v: str) -> str:
        host, sep, port = v.rpartition(":")
        if not sep or not host or not port.isdigit() or not 1 <= int(port) <= 65535:
            raise ValueError(f"{v!r}: expected HOST:PORT, e.g. 127.0.0.1:8080")
        return v

    @field_validator("password_hash")
    @classmethod
    def _hash(cls, v: str) -> str:
        from edge.page.password import BadPasswordHash, parse_hash

        try:
            parse_hash(v)
        except BadPasswordHash as exc:
            raise ValueError(str(exc)) from None
        return v

    @property
    def host_port(self) -> tuple[str, int]:
        host, _, port = self.listen.rpartition(":")
        return host.strip("[]"), int(port)


class PassesSection(_Section):
    # base64 of the 32 raw bytes GET /passes/public-key gives; none: the gate reads no passes
    public_key: str | None = None
    every_n_frames: int = Field(3, ge=1, le=100)  # QR decoding costs a few ms: not every frame
    repeat_s: float = Field(10.0, gt=0, le=3600)  # a code held up for seconds is one use per this

    @field_validator("public_key")
    @classmethod
    def _key(cls, v: str | None) -> str | None:
        if v is None:
            return v
        try:
            raw = base64.b64decode(v, validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("not base64 (copy public_key from GET /passes/public-key)") from None
        if len(raw) != 32:
            raise ValueError(f"an Ed25519 public key is 32 bytes, this one is {len(raw)}")
        return v

    def key_bytes(self) -> bytes | None:
        return None if self.public_key is None else base64.b64decode(self.public_key)


class GateConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    site: str = _ID
    gate: str = _ID
    direction: Literal["in", "out"] = "in"
    data_dir: Path
    camera: CameraSection
    thermal: ThermalSection = Field(default_factory=ThermalSection)
    door: DoorSection = Field(default_factory=DoorSection)
    mqtt: MqttSection
    server: ServerSection | None = None
    outbox: OutboxSection = Field(default_factory=OutboxSection)
    commands: CommandsSection = Field(default_factory=CommandsSection)
    gallery: GallerySection = Field(default_factory=GallerySection)
    page: PageSection | None = None
    passes: PassesSection = Field(default_factory=PassesSection)
    policy: PolicyConfig = Field(default_factory=PolicyConfig)
    pipeline: PipelineConfig = Field(default_factory=PipelineConfig)

    def remote_defaults(self) -> RemoteGateConfig:
        """What applies until the server sends a config of its own."""
        return RemoteGateConfig(policy=self.policy, pipeline=self.pipeline, door_open_ms=self.door.open_ms,
                                command_ttl_s=self.commands.ttl_s)


def parse_gate_config(data: Any, base_dir: Path | None = None) -> GateConfig:
    """Validate a parsed gate file; relative paths are taken from `base_dir` (the file's folder)."""
    if not isinstance(data, dict):
        raise GateConfigError("gate file: expected a mapping of keys (site, gate, camera, ...)")
    try:
        cfg = GateConfig.model_validate(data)
    except ValidationError as exc:
        raise GateConfigError(fields_error(exc)) from None
    if base_dir is not None:
        fix = {}
        if not cfg.data_dir.is_absolute():
            fix["data_dir"] = base_dir / cfg.data_dir
        if cfg.gallery.folder is not None and not cfg.gallery.folder.is_absolute():
            fix["gallery"] = cfg.gallery.model_copy(update={"folder": base_dir / cfg.gallery.folder})
        source = cfg.camera.source
        if "://" not in source and not source.startswith(("/", "synthetic:")):
            fix["camera"] = cfg.camera.model_copy(update={"source": str(base_dir / source)})
        if cfg.door.passback_file is not None and not cfg.door.passback_file.is_absolute():
            fix["door"] = cfg.door.model_copy(update={"passback_file": base_dir / cfg.door.passback_file})
        if cfg.thermal.truth is not None and not cfg.thermal.truth.is_absolute():
            fix["thermal"] = cfg.thermal.model_copy(update={"truth": base_dir / cfg.thermal.truth})
        cfg = cfg.model_copy(update=fix)
    return cfg


def load_gate_config(path: Path) -> GateConfig:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise GateConfigError(f"{path}: no such gate file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise GateConfigError(f"{path}: cannot read: {exc}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise GateConfigError(f"{path}: not valid YAML{where}") from None
    try:
        return parse_gate_config(data, base_dir=path.parent.resolve())
    except GateConfigError as exc:
        raise GateConfigError(f"{path}: {exc.message}") from None
