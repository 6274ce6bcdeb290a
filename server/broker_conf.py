"""The production Mosquitto configuration: one complete ``mosquitto.conf`` (``mosquitto -c`` it).

What it sets, and why (Mosquitto 2.0, ``man mosquitto.conf``):

- The gates' listener speaks TLS only (``tls_version tlsv1.2`` is the *minimum*: 1.2 and 1.3),
  binds client ids to user names (``use_username_as_clientid``, see broker_auth) and caps QoS at
  1 (``max_qos``: the wire contract uses no QoS 2). The server's listener (API, ingest workers)
  stays plain TCP only on a loopback address; bound anywhere else it gets the same TLS.
- ``password_file``/``acl_file`` are the ones ``broker-files`` writes beside this file.
- ``persistence true`` keeps persistent sessions and retained messages (ctl/config, ctl/gallery,
  status) across a restart, which listener or TLS changes need. The broker is not what makes
  entries durable (the gates' outboxes are), so a crash between two saves costs at most resends.
- Limits. In Mosquitto 2.0 ``max_packet_size`` and ``message_size_limit`` apply globally, not
  per listener; ``max_packet_size`` is the one used: it covers the whole packet and disconnects
  a client that sends more (MQTT 5 clients learn it from CONNACK). It is sized from the wire
  contract's largest message, an entry event (``MAX_ENTRY_PAYLOAD_BYTES``), plus room for the
  topic and properties; nothing else in the contract comes close. Queues are bounded per client
  by count and by bytes: an ingest worker away for a while must not make the broker grow
  without end; what the broker drops the gates still hold and send again (no ack, no delete).

Reload: SIGHUP (``systemctl reload mosquitto``) rereads the password and ACL files, the
certificate and key files, the limits and the persistence settings; clients already connected
keep their connection. Listeners and their options (port, ``tls_version``,
``use_username_as_clientid``, ``max_qos``) and ``user`` need a restart.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from menwei.errors import MenweiError
from menwei.wire import MAX_ENTRY_PAYLOAD_BYTES
from server.broker_auth import account_lines, parse_listener

# an entry event at its limit, plus its topic (ids are ≤ 64 characters) and MQTT 5 properties
MAX_PACKET_BYTES = MAX_ENTRY_PAYLOAD_BYTES + 4096
# per client, QoS 1 not yet acknowledged; Mosquitto's default of 20 would throttle the ingest
# worker, which asks for a receive maximum of 1000 (ingest.receive_maximum), and a gate's
# mqtt.inflight may go up to 1000 as well
MAX_INFLIGHT = 1000
# per client beyond those in flight: a worker away for minutes keeps its stream (docs/SERVER.md);
# the byte bound is what really caps memory (100,000 events with crops would be ~1 GB)
MAX_QUEUED_MESSAGES = 100_000
MAX_QUEUED_BYTES = 256 * 1024 * 1024
AUTOSAVE_S = 300


class BrokerConfError(MenweiError):
    code = "broker_conf"


@dataclass(frozen=True)
class Listener:
    host: str
    port: int

    @classmethod
    def parse(cls, value: str) -> Listener:
        return cls(*parse_listener(value))

    @property
    def loopback(self) -> bool:
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False


@dataclass(frozen=True)
class BrokerTls:
    cert: Path  # the broker's certificate (chain), PEM
    key: Path  # its private key, PEM


def check_tls(tls: BrokerTls, ca: Path | None, now: datetime | None = None) -> None:
    """Refuse, before anything is written, a certificate the gates would refuse at connect time:
    one that does not match its key, has expired, or was not issued by the CA their bundles carry."""
    from cryptography import x509
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import serialization

    def read(path: Path) -> bytes:
        try:
            return path.read_bytes()
        except OSError as exc:
            raise BrokerConfError(f"cannot read {path}: {exc.strerror}") from None

    try:
        chain = x509.load_pem_x509_certificates(read(tls.cert))
    except ValueError:
        raise BrokerConfError(f"{tls.cert}: not a PEM certificate") from None
    try:
        key = serialization.load_pem_private_key(read(tls.key), password=None)
    except (ValueError, TypeError):
        raise BrokerConfError(f"{tls.key}: not an unencrypted PEM private key (Mosquitto cannot ask for a "
                              "passphrase)") from None
    raw = serialization.PublicFormat.SubjectPublicKeyInfo
    if (key.public_key().public_bytes(serialization.Encoding.DER, raw)
            != chain[0].public_key().public_bytes(serialization.Encoding.DER, raw)):
        raise BrokerConfError(f"{tls.key} is not the key of {tls.cert}")
    now = now or datetime.now(UTC)
    if chain[0].not_valid_after_utc < now:
        raise BrokerConfError(f"{tls.cert} expired on {chain[0].not_valid_after_utc:%Y-%m-%d}")
    if ca is None:
        return
    try:
        roots = x509.load_pem_x509_certificates(read(ca))
    except ValueError:
        raise BrokerConfError(f"{ca}: not a PEM certificate") from None
    for cert in chain:
        for root in roots:
            if cert == root:
                return
            try:
                cert.verify_directly_issued_by(root)
                return
            except (ValueError, TypeError, InvalidSignature):
                continue
    raise BrokerConfError(f"{tls.cert} was not issued by {ca}: gates trusting that CA would refuse the broker")


def production_conf(directory: Path, gates: Listener, server: Listener, tls: BrokerTls, *,
                    persistence_dir: Path, pid_file: Path | None = None) -> str:
    if (gates.host, gates.port) == (server.host, server.port):
        raise BrokerConfError("the gate and server listeners must differ")
    tls_lines = [f"certfile {tls.cert.resolve()}", f"keyfile {tls.key.resolve()}", "tls_version tlsv1.2"]
    lines = [
        "# generated by `menwei server broker-files`; do not edit by hand, run it again",
        "# reload (SIGHUP, systemctl reload mosquitto): passwd, acl, certificate/key files, limits;",
        "# restart: listeners and their options (tls_version, use_username_as_clientid, max_qos), user",
        *account_lines(directory),
        "",
        "# sessions and retained ctl/config, ctl/gallery and status survive a restart",
        "persistence true",
        f"persistence_location {persistence_dir.resolve()}",
        f"autosave_interval {AUTOSAVE_S}",
        # a 3.1.1 session of a box that never comes back would otherwise queue for ever
        "persistent_client_expiration 30d",
    ]
    if pid_file is not None:
        lines.append(f"pid_file {pid_file}")
    lines += [
        "",
        "# limits (global in Mosquitto 2): one entry event is the largest message",
        f"max_packet_size {MAX_PACKET_BYTES}",
        f"max_inflight_messages {MAX_INFLIGHT}",
        f"max_queued_messages {MAX_QUEUED_MESSAGES}",
        f"max_queued_bytes {MAX_QUEUED_BYTES}",
        "",
        "# gates: TLS only; the client id is the user name (gate.<gate_id>)",
        f"listener {gates.port} {gates.host}",
        *tls_lines,
        "use_username_as_clientid true",
        "max_qos 1",
        "",
        "# server API and ingest workers" + (" (loopback: no TLS)" if server.loopback else " (TLS: not loopback)"),
        f"listener {server.port} {server.host}",
        *([] if server.loopback else tls_lines),
        "",
    ]
    return "\n".join(lines)
