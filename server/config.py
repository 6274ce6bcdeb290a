"""Server settings: defaults < config file (YAML/JSON) < environment < explicit overrides.

Environment variables: ``MENWEI_DB_URL``, ``MENWEI_MQTT_URL``, ``MENWEI_LISTEN`` and, for any field,
``MENWEI_<SECTION>__<FIELD>`` (e.g. ``MENWEI_RETENTION__FACE_CROP_DAYS=14``). A bad value raises a
``ConfigError`` that names the field and where the value came from.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from menwei.errors import MenweiError
from server.control import ControlLevels

ENV_PREFIX = "MENWEI_"
ENV_CONFIG_FILE = "MENWEI_CONFIG"


class ConfigError(MenweiError):
    code = "config"


MIN_SECRET_CHARS = 32  # the JWT/link signing key: 32 characters of a random token are > 190 bits


def default_data_dir(env: Mapping[str, str] | None = None, uid: int | None = None) -> Path:
    """An absolute, stable default: /var/lib/menwei for root (a system service), else
    $XDG_DATA_HOME/menwei or ~/.local/share/menwei. It used to be `var/menwei` relative to the
    working directory, so a command run elsewhere made a second database and `jwt.secret`."""
    env = os.environ if env is None else env
    uid = os.geteuid() if uid is None else uid
    if uid == 0:
        return Path("/var/lib/menwei")
    xdg = env.get("XDG_DATA_HOME")
    base = Path(xdg) if xdg and Path(xdg).is_absolute() else Path(env.get("HOME") or Path.home()) / ".local" / "share"
    return base / "menwei"


DEFAULT_DATA_DIR = default_data_dir()


class _Section(BaseModel):
    # a rejected value is never echoed (a too-short secret in the environment would be printed)
    model_config = ConfigDict(extra="forbid", validate_assignment=True, hide_input_in_errors=True)


class IngestSettings(_Section):
    client_id: str | None = Field(None, min_length=1, max_length=64,
                                  description="fixed per worker: the broker keeps this session's queue across "
                                              "restarts; null = a random id made once in data_dir/ingest-client-id")
    shared_group: str | None = Field("ingest", description="MQTT 5 shared-subscription group; null = plain")
    sites: list[str] | None = Field(None, description="only these compounds' topics; null = every compound")
    batch_max: int = Field(500, ge=1, le=1000, description="events per transaction at most")
    batch_wait_ms: float = Field(10.0, ge=0, le=1000, description="how long to gather a batch")
    writers: int = Field(2, ge=1, le=8, description="concurrent write transactions (PostgreSQL; SQLite uses 1)")
    receive_maximum: int = Field(1000, ge=1, le=65535,
                                 description="MQTT 5 in-flight window: un-PUBACKed messages the broker may send")
    # short on purpose: a worker that is gone keeps its share of a shared-subscription group (and
    # the events routed to it) until its session expires; the gates' outboxes resend anything not
    # acked, so a long expiry buys nothing but stranded events (retire a worker: ingest --retire)
    session_expiry_s: int = Field(300, ge=0, le=7 * 24 * 3600,
                                  description="how long the broker keeps the session (and queued events) offline")
    subscribe_timeout_s: float = Field(10.0, gt=0, le=300, description="how long to wait for the broker's SUBACK")
    quarantine_payload_bytes: int = Field(4096, ge=0, description="bytes of a rejected payload kept")
    telemetry_history_s: float = Field(60.0, ge=0, description="store a telemetry sample per gate at most this often")
    double_entry_window_h: float = Field(12.0, gt=0,
                                         description="an 'in' after an 'in' within this window is a double entry")
    clock_skew_s: float = Field(300.0, ge=0, le=86400,
                                description="an entry captured more than this after its arrival is refused")
    max_event_age_h: float = Field(366 * 24.0, gt=0,
                                   description="an entry captured more than this before its arrival is refused")
    override_window_s: float = Field(300.0, gt=0, le=86400,
                                     description="an override must follow a remote open of the same operator "
                                                 "within this time, else it raises an alert")
    # a gate sends telemetry every 2 s (edge/agent/agent.py): 15 missed in a row is not a hiccup,
    # and a gate that is loading its models or reconnecting gets the time to say so
    gate_offline_after_s: float | None = Field(30.0, ge=5, le=86400,
                                               description="an online gate silent (no status, no telemetry) "
                                                           "this long is marked offline with a gate_offline "
                                                           "alert, as its Last Will would; null = only the Will")
    rematch: bool = Field(True, description="re-match unknown faces against the whole district (face engine)")
    retry_backoff_s: float = Field(1.0, gt=0, description="wait before retrying a batch the database refused")


class RetentionSettings(_Section):
    face_crop_days: float = Field(30, gt=0, description="entry face crops of non-residents are purged after this")
    resident_face_crop_days: float | None = Field(
        90, gt=0, description="entry face crops of residents (null = kept as long as the entry)")
    non_resident_days: float = Field(30, gt=0,
                                     description="photos/embeddings of expired visitors and moved-out people")
    entry_days: float | None = Field(None, gt=0, description="entry rows kept this long; null = forever")
    quarantine_days: float = Field(30, gt=0, description="rejected payloads kept for inspection")
    health_days: float = Field(90, gt=0, description="device health history")
    interval_h: float = Field(24, gt=0, description="how often `menwei server run` purges")


class Settings(_Section):
    db_url: str = Field(f"sqlite:///{DEFAULT_DATA_DIR / 'server.db'}",
                        description="SQLAlchemy URL: sqlite:///… or postgresql://…; default: server.db in data_dir")
    mqtt_url: str | None = Field(None, description="mqtt://user:pass@host:1883 or mqtts://…; null = in-process broker")
    listen: str = Field("127.0.0.1:8080", description="HOST:PORT of the API")
    public_url: str | None = Field(None, description="base URL gates use to fetch galleries; default http://listen")
    data_dir: Path = Field(DEFAULT_DATA_DIR, description="galleries, secrets, face crops on disk; a relative "
                           "path is made absolute against the working directory when the settings load")
    secret_key: SecretStr | None = Field(None, description="JWT signing key (at least 32 characters); "
                                         "default: generated file in data_dir")
    token_minutes: int = Field(60, ge=1, le=7 * 24 * 60)
    command_ttl_s: int = Field(30, ge=1, le=3600, description="how long a ctl/cmd (remote open, snapshot, "
                               "reload) may wait for an offline gate: MQTT 5 message expiry and the "
                               "command's expires_at")
    pack: str = Field("dlib-resnet", description="face model pack for enrolment and district re-match")
    gallery_masked_templates: bool = Field(
        True, description="put the masked templates (docs/FACE.md, Masks) in the gallery files; turn off while "
        "gates older than them are in service (they would hold masked rows to the plain threshold)")
    sqlite_synchronous: str = Field("FULL", pattern="^(OFF|NORMAL|FULL|EXTRA)$")
    trusted_proxies: list[str] = Field(
        default_factory=list,
        description="addresses/networks of reverse proxies whose X-Forwarded-For/-Proto is believed "
        "(MENWEI_TRUSTED_PROXIES, comma-separated); empty = the socket peer is the client, always")
    ingest: IngestSettings = Field(default_factory=IngestSettings)
    retention: RetentionSettings = Field(default_factory=RetentionSettings)
    control_levels: ControlLevels = Field(default_factory=ControlLevels,
                                          description="what each compound control level changes at its gates")

    @field_validator("listen")
    @classmethod
    def _listen(cls, v: str) -> str:
        host, sep, port = v.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError("must be HOST:PORT, e.g. 127.0.0.1:8080")
        return v

    @field_validator("data_dir")
    @classmethod
    def _data_dir(cls, v: Path) -> Path:
        return Path(os.path.abspath(Path(v).expanduser()))

    @field_validator("secret_key")
    @classmethod
    def _secret(cls, v: SecretStr | None) -> SecretStr | None:
        if v is not None and len(v.get_secret_value()) < MIN_SECRET_CHARS:
            # names the variable, never the value
            raise ValueError(f"must be at least {MIN_SECRET_CHARS} characters (MENWEI_SECRET_KEY / secret_key); "
                             "unset it to use a generated secret file")
        return v

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _proxies(cls, v: Any) -> Any:
        if isinstance(v, str):  # from the environment: "10.0.0.1, 10.0.1.0/24"
            return [p.strip() for p in v.split(",") if p.strip()]
        return v

    @field_validator("db_url")
    @classmethod
    def _db(cls, v: str) -> str:
        if not v.startswith(("sqlite:", "postgresql", "postgres:")):
            raise ValueError("must be a sqlite:/// or postgresql:// URL")
        return v

    @field_validator("mqtt_url")
    @classmethod
    def _mqtt(cls, v: str | None) -> str | None:
        if v is not None and not v.startswith(("mqtt://", "mqtts://")):
            raise ValueError("must be an mqtt:// or mqtts:// URL")
        return v

    @property
    def listen_host(self) -> str:
        return self.listen.rpartition(":")[0]

    @property
    def listen_port(self) -> int:
        return int(self.listen.rpartition(":")[2])


_FLAT_ENV = {"DB_URL": "db_url", "MQTT_URL": "mqtt_url", "LISTEN": "listen", "PUBLIC_URL": "public_url",
             "DATA_DIR": "data_dir", "SECRET_KEY": "secret_key", "PACK": "pack",
             "TRUSTED_PROXIES": "trusted_proxies"}


def _read_file(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    try:
        if path.suffix.lower() == ".json":
            data = json.loads(text)
        else:
            import yaml

            data = yaml.safe_load(text)
    except (ValueError, Exception) as exc:  # yaml.YAMLError and json errors
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ConfigError(f"config file {path} is not valid YAML/JSON: {first}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must hold a mapping of settings")
    return data.get("server", data) if isinstance(data.get("server"), dict) else data


def _from_env(env: Mapping[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in env.items():
        if not key.startswith(ENV_PREFIX) or key == ENV_CONFIG_FILE:
            continue
        name = key[len(ENV_PREFIX):]
        if name in _FLAT_ENV:
            out[_FLAT_ENV[name]] = value
        elif "__" in name:
            section, _, field = name.lower().partition("__")
            if section in ("ingest", "retention"):
                parsed: Any = None if value.lower() in ("", "null", "none") else value
                if field == "sites" and parsed is not None:
                    parsed = [p.strip() for p in value.split(",") if p.strip()]
                out.setdefault(section, {})[field] = parsed
    return out


def _merge(base: dict[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in top.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _merge(dict(merged[key]), value)
        else:
            merged[key] = value
    return merged


def load_settings(path: str | Path | None = None, *, env: Mapping[str, str] | None = None,
                  **overrides: Any) -> Settings:
    """Build Settings; ``path`` defaults to $MENWEI_CONFIG. None-valued overrides are ignored, so
    argparse results can be passed straight through."""
    env = os.environ if env is None else env
    layers: list[tuple[str, dict[str, Any]]] = []
    path = path or env.get(ENV_CONFIG_FILE)
    if path:
        layers.append((str(path), _read_file(Path(path))))
    layers.append(("environment", _from_env(env)))
    layers.append(("command line", {k: v for k, v in overrides.items() if v is not None}))
    data: dict[str, Any] = {}
    for source, layer in layers:
        data = _merge(data, layer)
        try:  # validate layer by layer so the error says where the bad value came from
            Settings.model_validate(data)
        except ValidationError as exc:
            err = exc.errors()[0]
            field = ".".join(str(p) for p in err["loc"]) or "settings"
            raise ConfigError(f"{source}: {field}: {err['msg']}") from None
    return Settings.model_validate(data)
