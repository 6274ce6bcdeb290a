"""systemd's notify protocol as the units use it (Type=notify, WatchdogSec=): the server and the
gate agent say READY=1 once they work, WATCHDOG=1 while they keep working, STOPPING=1 at the end.
systemd's side is played by a unix datagram socket, exactly what $NOTIFY_SOCKET names."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from broker_kit import free_port
from gate_kit import gate_file, walkup_video
from ingest_kit import wait_for

from edge.agent.agent import GateAgent
from edge.agent.config import load_gate_config
from edge.door.base import DryRunDoor
from menwei.sdnotify import ServiceNotifier


class FakeSystemd:
    """Collects the datagrams a service sends to $NOTIFY_SOCKET."""

    def __init__(self, path: Path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.settimeout(0.2)
        self.messages: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        while not self._stop.is_set():
            try:
                self.messages += self.sock.recv(4096).decode().split("\n")
            except TimeoutError:
                continue

    def count(self, message: str) -> int:
        return self.messages.count(message)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sock.close()


@pytest.fixture
def systemd(tmp_path):
    fake = FakeSystemd(tmp_path / "notify.sock")
    yield fake
    fake.close()


def test_notifier_rate_limits_pings_to_half_the_watchdog_period(systemd):
    now = [100.0]
    n = ServiceNotifier(str(systemd.path), watchdog_s=10.0, clock=lambda: now[0])
    n.ready("up")
    for _ in range(50):  # a busy loop calls ping() far more often than systemd needs
        n.ping()
        now[0] += 0.125  # 6.25 s in all: one ping at the start, one once half the period (5 s) has passed
    n.ping()
    n.stopping()
    assert wait_for(lambda: systemd.count("STOPPING=1") == 1, timeout=5)
    assert systemd.messages[:2] == ["READY=1", "STATUS=up"]
    assert systemd.count("WATCHDOG=1") == 2


def test_notifier_outside_systemd_and_for_a_child_is_silent(systemd):
    assert not ServiceNotifier.from_env({}).active
    env = {"NOTIFY_SOCKET": str(systemd.path), "WATCHDOG_USEC": "2000000", "WATCHDOG_PID": str(os.getpid() + 1)}
    child = ServiceNotifier.from_env(env)  # the watchdog belongs to another process
    assert child.active and child.watchdog_s is None
    mine = ServiceNotifier.from_env({**env, "WATCHDOG_PID": str(os.getpid())})
    assert mine.watchdog_s == 2.0


def test_server_is_ready_pings_while_healthy_and_says_stopping(systemd, tmp_path):
    api, mqtt = free_port(), free_port()
    env = {**os.environ, "NOTIFY_SOCKET": str(systemd.path), "WATCHDOG_USEC": "600000"}
    env.pop("WATCHDOG_PID", None)
    proc = subprocess.Popen([sys.executable, "-m", "menwei", "server", "run", "--db", f"sqlite:///{tmp_path}/s.db",
                             "--data-dir", str(tmp_path / "data"), "--listen", f"127.0.0.1:{api}",
                             "--embedded-broker", f"127.0.0.1:{mqtt}", "--no-retention"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert wait_for(lambda: systemd.count("READY=1") == 1 or proc.poll() is not None, timeout=60), "no READY"
        assert proc.poll() is None, proc.communicate()[1][-2000:]
        assert wait_for(lambda: systemd.count("WATCHDOG=1") >= 3, timeout=10)
        assert systemd.messages.index("READY=1") < systemd.messages.index("WATCHDOG=1")
        proc.send_signal(signal.SIGSTOP)  # a hung server: /healthz stops answering, so do the pings
        time.sleep(0.5)
        before = systemd.count("WATCHDOG=1")
        time.sleep(1.5)
        assert systemd.count("WATCHDOG=1") == before
        proc.send_signal(signal.SIGCONT)
        assert wait_for(lambda: systemd.count("WATCHDOG=1") > before, timeout=10)
        proc.terminate()
        assert proc.wait(30) == 0
        assert wait_for(lambda: systemd.count("STOPPING=1") == 1, timeout=5)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_gate_agent_is_ready_once_its_camera_runs_and_pings_from_its_loop(systemd, tmp_path, faces_dir,
                                                                        face_engine, broker_url, uid):
    video = walkup_video(tmp_path, faces_dir)
    cfg = load_gate_config(gate_file(tmp_path, f"s{uid}", f"g{uid}", str(video), broker_url, faces_dir,
                                     camera={"realtime": True}))
    agent = GateAgent(cfg, engine=face_engine, door=DryRunDoor(clock=time.monotonic),
                      notifier=ServiceNotifier(str(systemd.path), watchdog_s=0.4))
    thread = threading.Thread(target=agent.run, daemon=True)
    thread.start()
    try:
        assert wait_for(lambda: systemd.count("READY=1") == 1, timeout=60)
        assert agent.capture is not None  # READY comes after the camera is open, not before
        assert wait_for(lambda: systemd.count("WATCHDOG=1") >= 3, timeout=10)
    finally:
        agent.stop()
        thread.join(30)
    assert not thread.is_alive()
    assert wait_for(lambda: systemd.count("STOPPING=1") == 1, timeout=5)
