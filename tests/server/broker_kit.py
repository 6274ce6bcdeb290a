"""A private Mosquitto for tests that need accounts, ACLs, several listeners or a broker they can stop.

Runs /usr/sbin/mosquitto as the current user (as root it would drop to ``mosquitto``, who cannot
read pytest's 0600 files) with persistence off, on free ports, and stops it afterwards.
"""

from __future__ import annotations

import contextlib
import getpass
import signal
import socket
import subprocess
import threading
import time
import uuid
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

MOSQUITTO = "/usr/sbin/mosquitto"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PrivateMosquitto:
    """``conf`` gets ``persistence false`` appended unless ``persistence`` is True (a conf that sets
    its own, such as the production one); ``user`` is always the current user."""

    def __init__(self, directory: Path, conf: str, ports: list[int], *, persistence: bool = False):
        self.conf = directory / "mosquitto.conf"
        self.conf.write_text(conf + ("" if persistence else "\npersistence false") + f"\nuser {getpass.getuser()}\n")
        self.ports = ports
        # its log goes to a file: a pipe nobody reads fills up and then stalls the broker
        self.log = directory / "mosquitto.log"
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen([MOSQUITTO, "-c", str(self.conf)], stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        for port in ports:
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                    break
                except OSError:
                    if self.proc.poll() is not None or time.monotonic() > deadline:
                        out = self.log.read_text(errors="replace")[-1000:]
                        raise AssertionError(f"private mosquitto did not start: {out}") from None
                    time.sleep(0.05)

    def reload(self) -> None:
        """SIGHUP: Mosquitto rereads its password and ACL files (and certificate files)."""
        self.proc.send_signal(signal.SIGHUP)

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


class Client:
    """A paho MQTT 5 client that records what it receives and whether CONNACK granted the login."""

    def __init__(self, port: int, username: str | None, password: str | None, client_id: str | None = None,
                 clean_start: bool = True, session_expiry_s: int = 0, ca: Path | None = None):
        self.messages: list[tuple[str, bytes]] = []
        self.connack = threading.Event()
        self.disconnected = threading.Event()
        self.reason = None
        self.assigned_id: str | None = None
        self.suback: list = []
        self._sub = threading.Event()
        self.c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id or f"t-{uuid.uuid4().hex[:8]}",
                             protocol=mqtt.MQTTv5)
        if username is not None:
            self.c.username_pw_set(username, password)
        if ca is not None:  # TLS, trusting only this CA (and checking the broker's name)
            self.c.tls_set(ca_certs=str(ca))
        self.c.on_connect = self._on_connect
        self.c.on_disconnect = lambda *_a: self.disconnected.set()
        self.c.on_message = lambda _c, _u, m: self.messages.append((m.topic, m.payload))

        def on_subscribe(_c, _u, _mid, codes, _p):
            self.suback = list(codes)
            self._sub.set()

        self.c.on_subscribe = on_subscribe
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = session_expiry_s
        try:
            self.c.connect("127.0.0.1", port, clean_start=clean_start, properties=props)
        except OSError:  # e.g. a TLS handshake refused: no CONNACK, not accepted
            self.connack.set()
            return
        self.c.loop_start()
        self.connack.wait(5)

    def _on_connect(self, _c, _u, _flags, reason, props) -> None:
        self.reason = reason
        self.assigned_id = getattr(props, "AssignedClientIdentifier", None)
        self.connack.set()

    @property
    def accepted(self) -> bool:
        return self.reason is not None and not self.reason.is_failure

    def subscribe(self, filt: str) -> list:
        self._sub.clear()
        self.c.subscribe(filt, qos=1)
        assert self._sub.wait(5), "no SUBACK"
        return self.suback

    def publish(self, topic: str, payload: bytes, retain: bool = False) -> None:
        self.c.publish(topic, payload, qos=1, retain=retain).wait_for_publish(5)

    def close(self) -> None:
        self.c.disconnect()
        self.c.loop_stop()


def _varint(buf: bytes, i: int) -> tuple[int, int] | None:
    """MQTT variable byte integer at buf[i:]: (value, index after it), None if incomplete."""
    value, shift = 0, 0
    while i < len(buf):
        b = buf[i]
        value |= (b & 0x7F) << shift
        i += 1
        if not b & 0x80:
            return value, i
        shift += 7
    return None


class SubackProxy:
    """A TCP proxy in front of a broker that holds back (``hold``) or refuses (``refuse``: every
    reason code rewritten to 0x87 Not authorized) the broker's MQTT 5 SUBACKs, so a test can see
    what a client does before and without a granted subscription."""

    def __init__(self, upstream_port: int, mode: str = "hold"):
        self.upstream_port, self.mode = upstream_port, mode
        self.release = threading.Event()
        self.subacks = 0
        self._srv = socket.socket()
        self._srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._srv.bind(("127.0.0.1", 0))
        self._srv.listen(8)
        self.port = self._srv.getsockname()[1]
        self._socks: list[socket.socket] = [self._srv]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                down, _ = self._srv.accept()
            except OSError:
                return
            up = socket.create_connection(("127.0.0.1", self.upstream_port))
            self._socks += [down, up]
            threading.Thread(target=self._pipe, args=(down, up), daemon=True).start()
            threading.Thread(target=self._from_broker, args=(up, down), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass

    def _from_broker(self, src: socket.socket, dst: socket.socket) -> None:
        buf = b""
        try:
            while data := src.recv(65536):
                buf += data
                while len(buf) >= 2:
                    head = _varint(buf, 1)
                    if head is None or len(buf) < head[1] + head[0]:
                        break
                    end = head[1] + head[0]
                    packet, buf = buf[:end], buf[end:]
                    if packet[0] >> 4 == 9:  # SUBACK
                        self.subacks += 1
                        if self.mode == "hold":
                            self.release.wait(30)
                        else:
                            props = _varint(packet, head[1] + 2)
                            start = props[1] + props[0]
                            packet = packet[:start] + b"\x87" * (len(packet) - start)
                    dst.sendall(packet)
        except OSError:
            pass

    def close(self) -> None:
        self.release.set()
        for s in self._socks:
            with contextlib.suppress(OSError):
                s.close()
