"""Provisioning a gate: a NEW MQTT password, and the bundle the technician installs on the box.

Like ``POST /gates/{id}/credentials``, provisioning replaces the gate's password (only its hash is
stored, so an old password cannot be put into a bundle again): the password that was valid stops
working as soon as the broker's password file is rewritten and Mosquitto reloaded. The order of
the steps is chosen so that no failure leaves a gate with a password nobody has: everything is
checked and the bundle is written to a temporary file *before* the new hash is committed, and the
bundle takes its place (0600, atomically, never over an existing file without ``force``) after.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from menwei.bundle import CA_FILE, GateBundle, default_install_dir
from menwei.errors import MenweiError
from menwei.wire import gate_username

DEFAULT_DATA_ROOT = Path("/var/lib/menwei")
# the keys the server decides; a template may give everything else (camera, door, page, ...)
IDENTITY_KEYS = ("site", "gate", "direction", "mqtt", "server")


class ProvisionError(MenweiError):
    code = "provision"


@dataclass(frozen=True)
class BundleSpec:
    broker: str  # mqtts://HOST:PORT the gate connects to (no user or password)
    server_url: str  # http(s)://… the gate downloads galleries from
    ca_pem: str | None  # the CA of the broker's certificate; None: the system's CAs
    direction: str | None = None  # in/out for a gate registered as "both"
    template: dict[str, Any] | None = None  # device sections of the gate file
    allow_plain: bool = False  # mqtt:// (lab only: the password would cross the network in clear)


def new_password() -> str:
    return secrets.token_urlsafe(24)  # 192 bits, URL-safe: no quoting surprises in the mqtts URL


def read_ca(path: Path) -> str:
    from cryptography import x509

    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ProvisionError(f"cannot read CA file {path}: {exc.strerror}") from None
    try:
        certs = x509.load_pem_x509_certificates(data)
    except ValueError:
        raise ProvisionError(f"{path}: not a PEM certificate") from None
    if any(c.not_valid_after_utc < datetime.now(UTC) for c in certs):
        raise ProvisionError(f"{path}: the CA certificate has expired")
    return data.decode("ascii")


def check_broker_url(url: str, allow_plain: bool) -> tuple[str, str, int]:
    parts = urlsplit(url)
    if parts.scheme not in ("mqtts", "mqtt") or not parts.hostname:
        raise ProvisionError(f"--broker must be mqtts://HOST:PORT, got {url!r}")
    if parts.username or parts.password or parts.query:
        raise ProvisionError("--broker is HOST:PORT only: the gate's user, password and CA are added by provisioning")
    if parts.scheme == "mqtt" and not allow_plain:
        raise ProvisionError("--broker mqtt:// would send the gate's password in clear; use mqtts:// "
                             "(or --allow-plain in a lab)")
    try:
        port = parts.port or (8883 if parts.scheme == "mqtts" else 1883)
    except ValueError:
        raise ProvisionError(f"--broker has a bad port: {url!r}") from None
    return parts.scheme, parts.hostname, port


def gate_url(broker: str, gate_id: str, password: str, ca_path: Path | None, allow_plain: bool) -> str:
    scheme, host, port = check_broker_url(broker, allow_plain)
    host = f"[{host}]" if ":" in host else host
    query = f"?ca={quote(str(ca_path), safe='/')}" if ca_path is not None and scheme == "mqtts" else ""
    return f"{scheme}://{quote(gate_username(gate_id), safe='')}:{quote(password, safe='')}@{host}:{port}{query}"


def build_bundle(site_id: str, gate_id: str, direction: str, password: str, spec: BundleSpec,
                 install_dir: Path | None = None) -> GateBundle:
    """The bundle, its gate file validated as the gate will validate it."""
    from edge.agent.config import GateConfigError, parse_gate_config

    if direction == "both":
        if spec.direction is None:
            raise ProvisionError(f"gate {gate_id} is registered for both directions: say which one this box "
                                 "watches (--direction in|out)")
        direction = spec.direction
    elif spec.direction is not None and spec.direction != direction:
        raise ProvisionError(f"gate {gate_id} is registered as {direction!r}, not {spec.direction!r}")
    # the device sections: the template's, else what every box has before its wiring is known
    # (dry-run door: nothing opens until the technician has set and tested the door driver)
    gate_file: dict[str, Any] = {"data_dir": str(DEFAULT_DATA_ROOT / gate_id), "camera": {"source": "/dev/video0"},
                                 "thermal": {"sensor": "none"}, "door": {"driver": "dry-run"}}
    for key, value in (spec.template or {}).items():
        if key not in IDENTITY_KEYS:
            gate_file[key] = value
    # where `menwei edge install` puts the CA by default (it rewrites the path if told otherwise)
    ca_path = (install_dir or default_install_dir(gate_id)) / CA_FILE if spec.ca_pem is not None else None
    mqtt = (spec.template or {}).get("mqtt") or {}  # keep the template's inflight, expiry, ...
    if not isinstance(mqtt, dict):
        raise ProvisionError("template: mqtt must be a mapping (inflight, session_expiry_s, ...)")
    mqtt = dict(mqtt)
    mqtt["url"] = gate_url(spec.broker, gate_id, password, ca_path, spec.allow_plain)
    gate_file = {"site": site_id, "gate": gate_id, "direction": direction, **gate_file, "mqtt": mqtt,
                 "server": {"url": spec.server_url}}
    try:
        parse_gate_config(gate_file)
    except GateConfigError as exc:
        # the message names a field, never the URL's password (pydantic errors do not echo input)
        raise ProvisionError(f"the gate file for {gate_id} would be refused by the gate: {exc.message}") from None
    return GateBundle(site=site_id, gate=gate_id, created_at=datetime.now(UTC).replace(microsecond=0),
                      ca_pem=spec.ca_pem, gate_file=gate_file)


class SecretFile:
    """A file written 0600 next to its final place, then moved there in one step (``commit``)."""

    def __init__(self, path: Path, force: bool):
        self.path, self.force = path, force
        if path.exists() and not force:
            raise ProvisionError(f"{path} exists; pass --force to replace it")
        if not path.parent.is_dir():
            raise ProvisionError(f"{path.parent} is not a folder")
        self.tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")

    def write(self, text: str) -> None:
        try:
            fd = os.open(self.tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except OSError as exc:
            raise ProvisionError(f"cannot write in {self.path.parent}: {exc.strerror}") from None
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())

    def commit(self) -> None:
        if self.force:
            os.replace(self.tmp, self.path)
            return
        try:
            os.link(self.tmp, self.path)  # fails if someone created the file meanwhile: never overwrite
        except FileExistsError:
            raise ProvisionError(f"{self.path} appeared meanwhile; the bundle is in {self.tmp}") from None
        os.unlink(self.tmp)

    def discard(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.tmp)


@dataclass(frozen=True)
class Provisioned:
    site_id: str
    gate_id: str
    username: str
    out: Path


def provision_gate(sessions, gate_id: str, spec: BundleSpec, out: Path, *, force: bool = False,
                   actor_name: str = "cli:provision-gate", install_dir: Path | None = None) -> Provisioned:
    """Set a new MQTT password for an active gate and write its bundle to ``out``."""
    from server.audit import Actor, record
    from server.broker_auth import hash_password
    from server.db.models import Gate

    target = SecretFile(out, force)
    with sessions() as s:
        g = s.get(Gate, gate_id)
        if g is None:
            raise ProvisionError(f"gate {gate_id} not found (register it first: POST /api/v1/gates)")
        if not g.active:
            raise ProvisionError(f"gate {gate_id} is deactivated; reactivate it (PATCH /api/v1/gates/{gate_id} "
                                 "active=true) before provisioning")
        password = new_password()
        bundle = build_bundle(g.site_id, g.id, str(g.direction), password, spec, install_dir)
        target.write(bundle.dump())
        try:
            g.mqtt_password_hash = hash_password(password)
            record(s, Actor(actor_name), "rotate_credentials", "gate", g.id, g.site_id, {"via": "provision-gate"})
            s.commit()
        except BaseException:
            target.discard()
            raise
        site_id = g.site_id
    target.commit()
    return Provisioned(site_id=site_id, gate_id=gate_id, username=gate_username(gate_id), out=out)
