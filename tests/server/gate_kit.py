"""Helpers for the gate ↔ server tests: a walk-up video, a gate file, the registry the gallery
names, and a TCP proxy whose link the test can cut."""

from __future__ import annotations

import contextlib
import socket
import threading
from pathlib import Path

import yaml
from ingest_kit import seed

from edge.capture.synthetic import named_scene

RESIDENTS = ["alex_lacamoire", "biden", "kit_harington", "obama", "rose_leslie"]  # the train folders


def walkup_video(directory: Path, faces_dir: Path, scene: str = "walkup") -> Path:
    s = named_scene(scene, faces_dir, width=640, height=360)
    path = s.write_video(directory / f"{scene}.avi")
    s.save_truth(path.with_suffix(".truth.json"))
    return path


def seed_compound(sessions, site: str, gate: str) -> None:
    """The compound, its gate and the residents the gallery folder names (ids = folder names)."""
    seed(sessions, site, {gate: "in"}, [{"id": r, "name": r.replace("_", " ").title()} for r in RESIDENTS]
         if not _residents_exist(sessions) else [])


def _residents_exist(sessions) -> bool:
    from server.db.models import Resident

    with sessions() as s:
        return s.get(Resident, RESIDENTS[0]) is not None


def gate_file(directory: Path, site: str, gate: str, source: str, mqtt_url: str, faces_dir: Path, **extra) -> Path:
    data = {"site": site, "gate": gate, "direction": "in", "data_dir": str(directory / "gate-data"),
            "camera": {"source": source, "realtime": False}, "thermal": {"sensor": "sim"},
            "door": {"driver": "dry-run"}, "mqtt": {"url": mqtt_url, "resend_after_s": 3},
            "gallery": {"folder": str(faces_dir / "knn_examples" / "train")}}
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    path = directory / "gate.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


class CutProxy:
    """TCP proxy to a broker; `cut()` drops every connection and refuses new ones until `mend()`
    (a network cable pulled, then plugged in again)."""

    def __init__(self, upstream_port: int):
        self.upstream_port = upstream_port
        self.open = threading.Event()
        self.open.set()
        self._srv = socket.socket()
        self._srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._srv.bind(("127.0.0.1", 0))
        self._srv.listen(16)
        self.port = self._srv.getsockname()[1]
        self._socks: list[socket.socket] = []
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                down, _ = self._srv.accept()
            except OSError:
                return
            if not self.open.is_set():
                down.close()
                continue
            try:
                up = socket.create_connection(("127.0.0.1", self.upstream_port))
            except OSError:
                down.close()
                continue
            with self._lock:
                self._socks += [down, up]
            for a, b in ((down, up), (up, down)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        with contextlib.suppress(OSError):
            dst.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        self.open.clear()
        with self._lock:
            socks, self._socks = self._socks, []
        for s in socks:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
                s.close()

    def mend(self) -> None:
        self.open.set()

    def close(self) -> None:
        self.cut()
        self._srv.close()
