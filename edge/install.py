"""`menwei edge install BUNDLE`: put a gate bundle (menwei/bundle.py) in place on the box.

Steps, each reported on one line: read the bundle; write the CA certificate and the gate file
(the mqtts URL's ``ca=`` rewritten to where the CA went, ``data_dir`` to ``--data-dir``) into
temporary files; validate the gate file exactly as ``menwei edge check-config`` does; move both
into place (the gate file 0600, owned by the service user when run as root); make the data dir
(0700, same owner); connect to the broker once with the gate's own credentials.

A data dir belongs to one gate: its outbox numbers events 1, 2, 3… and the server acks a gate's
seqs only contiguously from 1, so a box moved to another gate with the old data dir would never
be acked (and its outbox would fill and shut the door). Install marks the data dir with the gate
it serves (``gate.id``) and refuses to give it to another.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import yaml

from menwei.bundle import CA_FILE, GATE_FILE, GateBundle, default_install_dir, parse_bundle
from menwei.errors import MenweiError

MARKER = "gate.id"  # in the data dir: "SITE/GATE" of the gate it serves
# what a bundle sets; with --keep-devices everything else comes from the gate file it replaces
IDENTITY_KEYS = ("site", "gate", "direction", "mqtt", "server", "data_dir")


class InstallError(MenweiError):
    code = "install"


@dataclass
class Step:
    step: str
    ok: bool
    detail: str


@dataclass
class InstallReport:
    steps: list[Step] = field(default_factory=list)
    gate_file: Path | None = None

    @property
    def ok(self) -> bool:
        return all(s.ok for s in self.steps)

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "gate_file": None if self.gate_file is None else str(self.gate_file),
                "steps": [{"step": s.step, "ok": s.ok, "detail": s.detail} for s in self.steps]}


@dataclass(frozen=True)
class Options:
    directory: Path | None = None  # default: /etc/menwei/<gate> (what menwei-gate@<gate>.service reads)
    data_dir: Path | None = None  # default: the bundle's (/var/lib/menwei/<gate>)
    user: str | None = None  # service user; only used as root
    force: bool = False
    keep_devices: bool = False
    connect: bool = True
    timeout_s: float = 10.0


def _owner(user: str | None) -> tuple[int, int] | None:
    """uid/gid to chown to: only as root (nobody else can give files away)."""
    if os.geteuid() != 0 or user is None:
        return None
    import pwd

    try:
        pw = pwd.getpwnam(user)
    except KeyError:
        raise InstallError(f"user {user!r} does not exist (create the service user, or pass --user)") from None
    return pw.pw_uid, pw.pw_gid


def _with_ca(url: str, ca_path: Path) -> str:
    """The same URL with ``ca=`` pointing at the installed CA (other parameters kept)."""
    parts = urlsplit(url)
    query = [q for q in parts.query.split("&") if q and not q.startswith("ca=")]
    query.append(f"ca={quote(str(ca_path), safe='/')}")
    return urlunsplit(parts._replace(query="&".join(query)))


def _tmp(path: Path) -> Path:
    return path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")


def _write(path: Path, data: str, mode: int) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def _old_gate_file(path: Path) -> dict[str, Any] | None:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return None
    return data if isinstance(data, dict) else None


def _check_data_dir(data_dir: Path, bundle: GateBundle, old: dict[str, Any] | None) -> str:
    """Refuse a data dir that served another gate; return what it is now."""
    me = f"{bundle.site}/{bundle.gate}"
    try:
        owner = (data_dir / MARKER).read_text(encoding="utf-8").strip()
    except OSError:
        owner = None
    if owner is None and old and old.get("data_dir") and Path(old["data_dir"]) == data_dir:
        owner = f"{old.get('site')}/{old.get('gate')}"  # installed before markers: the gate file says
    if owner and owner != me:
        from edge.link.outbox import read_stats

        stats = read_stats(data_dir / "outbox.sqlite")
        used = f" (its outbox is at seq {stats.last_seq}, {stats.depth} unacked)" if stats else ""
        raise InstallError(f"data dir {data_dir} belongs to gate {owner}{used}; gate {me} needs one of its own "
                           f"(--data-dir), its seqs start at 1")
    return "new" if not data_dir.exists() else ("this gate's" if owner == me else "unused so far")


def install(bundle_path: Path, opts: Options, on_step: Callable[[Step], None] | None = None) -> InstallReport:
    """Install the bundle; a failed step ends the run (the report says which and why)."""
    report = InstallReport()

    def step(name: str, fn: Callable[[], str]) -> bool:
        try:
            s = Step(name, True, fn())
        except MenweiError as exc:
            s = Step(name, False, exc.message)
        except OSError as exc:  # chown/mkdir/rename on the box: one line, not a traceback
            s = Step(name, False, f"{exc.strerror}: {exc.filename}")
        report.steps.append(s)
        if on_step is not None:
            on_step(s)
        return s.ok

    state: dict[str, Any] = {}
    directory = gate_path = ca_path = Path()  # known once the bundle names its gate

    def read() -> str:
        nonlocal directory, gate_path, ca_path
        try:
            text = bundle_path.read_text(encoding="utf-8")
        except OSError as exc:
            raise InstallError(f"cannot read {bundle_path}: {exc.strerror}") from None
        except UnicodeDecodeError:
            raise InstallError(f"{bundle_path}: not a gate bundle (not text)") from None
        b = state["bundle"] = parse_bundle(text, str(bundle_path))
        directory = (opts.directory or default_install_dir(b.gate)).absolute()
        gate_path, ca_path = directory / GATE_FILE, directory / CA_FILE
        return f"gate {b.gate} of {b.site}, made {b.created_at:%Y-%m-%d %H:%M} UTC"

    def place() -> str:
        b: GateBundle = state["bundle"]
        state["owner"] = _owner(opts.user)
        if gate_path.exists() and not opts.force:
            raise InstallError(f"{gate_path} exists; pass --force to replace it")
        old = _old_gate_file(gate_path) if gate_path.exists() else None
        gate_file = dict(b.gate_file)
        kept = []
        if opts.keep_devices and old:
            for key, value in old.items():
                if key not in IDENTITY_KEYS:
                    gate_file[key] = value
                    kept.append(key)
        # the same gate again (rotation): keep its data dir, wherever it was put; a new one would
        # start its seqs at 1 again, below what the server has acked (seq reuse)
        same = old is not None and (old.get("site"), old.get("gate")) == (b.site, b.gate) and old.get("data_dir")
        data_dir = (opts.data_dir or (Path(old["data_dir"]) if same else Path(gate_file["data_dir"]))).absolute()
        gate_file["data_dir"] = str(data_dir)
        state["data_how"] = _check_data_dir(data_dir, b, old)
        mqtt = dict(gate_file["mqtt"])
        if b.ca_pem is not None:
            mqtt["url"] = _with_ca(mqtt["url"], ca_path)
        gate_file["mqtt"] = mqtt
        state["data_dir"] = data_dir
        directory.mkdir(mode=0o755, parents=True, exist_ok=True)
        tmp_gate = _tmp(gate_path)
        tmp_ca = _tmp(ca_path) if b.ca_pem is not None else None
        state["tmp"] = [p for p in (tmp_gate, tmp_ca) if p is not None]
        try:
            if tmp_ca is not None:
                _write(tmp_ca, b.ca_pem, 0o644)  # a CA certificate is public
            _write(tmp_gate, "# installed by `menwei edge install` from a gate bundle; holds the gate's MQTT "
                   "password\n" + yaml.safe_dump(gate_file, sort_keys=False, width=1000), 0o600)
        except OSError as exc:
            raise InstallError(f"cannot write in {directory}: {exc.strerror}") from None
        state["tmp_gate"], state["tmp_ca"] = tmp_gate, tmp_ca
        note = f"; kept {', '.join(kept)} from the old gate file" if kept else ""
        return f"written next to {gate_path}{' and ' + str(ca_path) if tmp_ca else ''}{note}"

    def validate() -> str:
        from edge.agent.config import load_gate_config

        try:
            cfg = load_gate_config(state["tmp_gate"])  # what `menwei edge check-config` runs
        except MenweiError as exc:
            raise InstallError(exc.message.replace(str(state["tmp_gate"]), str(gate_path))) from None
        state["cfg"] = cfg
        return (f"gate {cfg.gate} of {cfg.site} ({cfg.direction}), camera {cfg.camera.source}, "
                f"thermal {cfg.thermal.sensor}, door {cfg.door.driver}")

    def commit() -> str:
        owner = state["owner"]
        if owner is not None:
            os.chown(state["tmp_gate"], *owner)
        if state["tmp_ca"] is not None:
            os.replace(state["tmp_ca"], ca_path)
        os.replace(state["tmp_gate"], gate_path)  # last: a gate file never names a CA not yet there
        state["tmp"] = []
        report.gate_file = gate_path
        who = f"owner {opts.user}" if owner is not None else (
            "not root: owner unchanged" if opts.user else "owner unchanged")
        return f"{gate_path} (0600, {who})" + (f", {ca_path} (0644)" if state["tmp_ca"] else "")

    def data() -> str:
        d: Path = state["data_dir"]
        d.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(d, 0o700)  # the outbox holds face crops of passers-by
        marker = d / MARKER
        marker.write_text(f"{state['bundle'].site}/{state['bundle'].gate}\n", encoding="utf-8")
        owner = state["owner"]
        if owner is not None:
            for p in (d, marker):
                os.chown(p, *owner)
        return f"{d} (0700, {state['data_how']})"

    def probe() -> str:
        from menwei.mqtt import BrokerUrl, SessionOptions, connect

        cfg = state["cfg"]
        url = BrokerUrl.parse(cfg.mqtt.url)
        # the gate's own client id, resuming its session without ending it: clean start off, the
        # agent's session expiry, nothing acknowledged (what arrives is redelivered to the agent)
        client_id = url.username or f"install-{cfg.gate}"
        opts_ = SessionOptions(client_id=client_id, persistent=True, session_expiry_s=cfg.mqtt.session_expiry_s,
                               manual_ack=True)
        client = connect(url, opts_, timeout=opts.timeout_s)
        client.disconnect()
        client.loop_stop()
        return f"connected to {url.redacted()}{' over TLS' if url.tls else ''} as {url.username}"

    try:
        ok = step("bundle", read) and step("files", place) and step("config", validate) and step("install", commit)
        ok = ok and step("data dir", data)
        if ok and opts.connect:
            step("broker", probe)
        elif ok:
            report.steps.append(Step("broker", True, "not tried (--no-connect)"))
            if on_step is not None:
                on_step(report.steps[-1])
    finally:
        for p in state.get("tmp", []):
            with contextlib.suppress(FileNotFoundError):
                p.unlink()
    return report
