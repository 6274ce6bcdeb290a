"""`menwei edge run`: camera → pipeline → outbox → door → MQTT, and back: acks, commands, gallery, config.

One loop thread does the work of a frame, in this order for each decision: the event is committed
to the outbox (seq on disk), then the door acts, then the link is told there is something to send.
Everything that arrives from the server is queued by the MQTT thread and applied by the loop
between two frames, so the pipeline never sees a gallery or a policy change mid-frame.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path

from edge.agent.config import GateConfig
from edge.agent.events import EventFactory, face_crop_jpeg
from edge.agent.feed import LiveFeed
from edge.agent.host import box_temperatures, rss_mb
from edge.agent.passes import PassCheck
from edge.agent.remote_config import RemoteConfigError, RemoteGateConfig, parse_remote_config
from edge.agent.thermal import build_thermal
from edge.capture.capture import Capture
from edge.capture.source import Frame, is_stream_url, open_source
from edge.door.base import Door, open_door
from edge.door.controller import DoorController, DoorEvent, DoorInputs, open_inputs, open_rules
from edge.face.gallery import Gallery
from edge.link.commands import command_refusal
from edge.link.gallery_sync import GallerySync
from edge.link.outbox import Outbox, OutboxFull
from edge.link.session import GateLink, LinkHandlers
from edge.pipeline.loop import GatePipeline
from edge.pipeline.types import TrackDecision
from menwei.sdnotify import ServiceNotifier
from menwei.wire import (
    Command,
    CommandKind,
    Decision,
    EntryEvent,
    GalleryAnnouncement,
    GateConfigMessage,
    Reason,
)

log = logging.getLogger(__name__)
AGENT_VERSION = "0.1.0"
STATE_FILE = "agent.json"  # what `menwei edge status` reads while (or after) the agent runs
REMOTE_CONFIG_FILE = "config.json"  # the last accepted server config, kept across restarts


@dataclass
class AgentCounters:
    frames: int = 0
    decisions: int = 0
    events: int = 0
    door_opens: int = 0
    door_events: int = 0
    commands_refused: int = 0
    outbox_full: int = 0


class GateAgent:
    def __init__(self, cfg: GateConfig, *, engine=None, door: Door | None = None, inputs: DoorInputs | None = None,
                 notifier: ServiceNotifier | None = None):
        from edge.face.engine import FaceEngine

        self.cfg = cfg
        self.data_dir = Path(cfg.data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.engine = engine or FaceEngine.load()
        self._inbox: queue.Queue[tuple[str, object]] = queue.Queue()
        self.door = door or open_door(cfg.door)
        self.controller = DoorController(
            self.door, open_rules(cfg.door, self.data_dir), inputs if inputs is not None else open_inputs(cfg.door),
            on_event=lambda e: self._inbox.put(("door", e)), poll_s=(cfg.door.inputs.poll_ms / 1000
                                                                    if cfg.door.inputs else 0.02))
        self.feed = LiveFeed()  # what the gate's own status page shows
        self.notifier = notifier or ServiceNotifier(None, None)  # systemd's READY/WATCHDOG (menwei/sdnotify.py)
        self.outbox = Outbox(self.data_dir / "outbox.sqlite", max_events=cfg.outbox.max_events)
        self.counters = AgentCounters()
        self._stop = threading.Event()
        self._downloads = ThreadPoolExecutor(max_workers=1, thread_name_prefix="gallery")
        self.remote, self.config_version = self._load_remote_config()
        self.config_error: str | None = None
        self.gallery_sync = GallerySync(self.data_dir / "gallery", self.engine.pack,
                                        lambda g: self._inbox.put(("gallery", g)))
        self.gallery = self._initial_gallery()
        self.link = GateLink(cfg.mqtt.url, cfg.site, cfg.gate, self.outbox, LinkHandlers(
            command=lambda cmd, expiry: self._inbox.put(("command", cmd)),
            gallery=lambda ann: self._downloads.submit(self._fetch_gallery, ann),
            config=lambda msg: self._inbox.put(("config", msg)),
            status=self._status_fields), inflight=cfg.mqtt.inflight, session_expiry_s=cfg.mqtt.session_expiry_s,
            resend_after_s=cfg.mqtt.resend_after_s)
        self.capture: Capture | None = None
        self.pipeline: GatePipeline | None = None
        self.thermal = None
        self.events: EventFactory | None = None
        self._last_state_write = 0.0
        self._fps_mark = (time.monotonic(), 0)
        self.last_state: dict | None = None  # the loop's own last state, with fps: read by the gate's page

    # ---- start-up pieces
    def _load_remote_config(self) -> tuple[RemoteGateConfig, int | None]:
        path = self.data_dir / REMOTE_CONFIG_FILE
        try:
            data = json.loads(path.read_text())
            return parse_remote_config(data["config"]), int(data["version"])
        except FileNotFoundError:
            pass
        except (ValueError, KeyError, RemoteConfigError) as exc:
            log.error("%s: ignored (%s); using the gate file's values", path, str(exc)[:200])
        return self.cfg.remote_defaults(), None

    def _initial_gallery(self) -> Gallery:
        cached = self.gallery_sync.load_cached()
        if cached is not None:
            return cached
        if self.cfg.gallery.folder is not None:
            from edge.face.service import build_folder_gallery

            gallery, problems = build_folder_gallery(self.engine, self.cfg.gallery.folder)
            for p in problems:
                log.warning("gallery folder: %s: %s", p["image"], p["error"]["message"])
            return gallery
        log.warning("no gallery yet: every face is unknown until the server's arrives")
        return Gallery(self.engine.pack, self.engine.dim)

    def _open_camera(self) -> Capture:
        cam = self.cfg.camera
        spec = cam.source
        live = spec.startswith("/dev/video") or is_stream_url(spec)
        realtime = True if cam.realtime is None else cam.realtime

        def factory():
            return open_source(spec, realtime=realtime, camera=cam.profile)

        # a file replayed as fast as it goes must not lose frames to a slow loop; a live camera must
        return Capture(factory, stall_timeout=cam.stall_timeout_s, lossless=not live and not realtime)

    # ---- running
    def run(self, *, exit_when_drained: bool = False, drain_timeout_s: float | None = None) -> int:
        """Until stop() (or, with exit_when_drained, until a finite source ended and every event is acked)."""
        self.link.start()
        self.controller.start()
        self._await_first_gallery()
        self.capture = self._open_camera().start()
        self.notifier.ready(f"gate {self.cfg.gate} running")
        ended = False
        try:
            while not self._stop.is_set():
                self.notifier.ping()  # only this loop proves the gate works: a hang stops the pings
                self._apply_inbox()
                frame = self.capture.latest(timeout=0.1)
                if frame is None:
                    if self.capture.stats.state == "ended" and not ended:
                        ended = True
                        self._finish_stream()
                        if exit_when_drained:
                            break
                    self._housekeeping()
                    continue
                self._process(frame)
                self._housekeeping()
            if exit_when_drained and ended:
                deadline = None if drain_timeout_s is None else time.monotonic() + drain_timeout_s
                while not self._stop.is_set() and self.outbox.stats().depth > 0:
                    if deadline is not None and time.monotonic() > deadline:
                        log.error("outbox not drained within %.0f s", drain_timeout_s)
                        return 1
                    self._apply_inbox()
                    self._housekeeping()
                    self.link.wait_drained(0.2)
            return 0
        finally:
            self._shutdown()

    def stop(self) -> None:
        self._stop.set()

    def _await_first_gallery(self) -> None:
        if self.gallery_sync.version is not None or self.cfg.gallery.folder is not None:
            return  # a cached or local gallery: decide from it at once
        deadline = time.monotonic() + self.cfg.gallery.wait_s
        while time.monotonic() < deadline and not self._stop.is_set():
            try:
                kind, item = self._inbox.get(timeout=0.1)
            except queue.Empty:
                continue
            self._inbox.put((kind, item))  # applied by the loop in order
            if kind == "gallery":
                return
        log.warning("no gallery from the server within %.0f s: deciding with none (everyone unknown)",
                    self.cfg.gallery.wait_s)

    def _ensure_pipeline(self, frame: Frame) -> GatePipeline:
        if self.thermal is None:  # the first frame tells the sensor registration the frame size
            h, w = frame.image.shape[:2]
            self.thermal = build_thermal(self.cfg, (w, h))
            if self.thermal.supervisor is not None:
                self.thermal.supervisor.start()
            self.events = EventFactory(self.cfg.site, self.cfg.gate, self.cfg.direction, self.engine.pack,
                                       self.thermal.method)
        if self.pipeline is None:  # at the first frame, and after a config changed the pipeline's settings
            config = self.remote.pipeline.model_copy(update={"direction": self.cfg.direction})
            self.pipeline = GatePipeline(self.engine, self.gallery, thermal=self.thermal.reader,
                                         policy=self.remote.policy, config=config)
        return self.pipeline

    def _process(self, frame: Frame) -> None:
        pipeline = self._ensure_pipeline(frame)
        self.counters.frames += 1
        self._visitor_passes(frame)
        for decision in pipeline.process(frame):
            self._record(decision, frame)

    # ---- visitor passes (edge/agent/passes.py): each use is committed, then the door acts
    @cached_property
    def pass_check(self) -> PassCheck | None:
        key = self.cfg.passes.key_bytes()
        if key is None:
            return None  # no key in the gate file: passes are not read at this gate
        # the revoked set is read from the current gallery at each check: a new gallery's list applies at once
        return PassCheck(key, self.cfg.site, self.cfg.gate, revoked=lambda: self.gallery.revoked_passes,
                         allowed=lambda: self.remote.visitor_passes,
                         every_n_frames=self.cfg.passes.every_n_frames, repeat_s=self.cfg.passes.repeat_s)

    def _visitor_passes(self, frame: Frame) -> None:
        if self.pass_check is None:
            return
        version = self.gallery.version
        for outcome in self.pass_check.check(frame):
            use = outcome.use()
            seq = self._commit(lambda seq, use=use: self.events_factory().visitor_pass(seq, use, version))
            if seq is not None and outcome.accepted:
                # through the rules, like every grant: the door opening next is not "forced"
                self.controller.grant(self.remote.door_open_ms, "visitor_pass", seq)
                self.counters.door_opens += 1
            self.feed.publish("pass", {"seq": seq, "accepted": outcome.accepted, "code": outcome.code,
                                       "at": time.time()})
            log.info("visitor pass %s: %s", "accepted" if outcome.accepted else f"refused ({outcome.code})",
                     outcome.message)

    def _finish_stream(self) -> None:
        if self.pipeline is None:
            return
        last = self.pipeline.last_frame
        for decision in self.pipeline.finish():
            self._record(decision, last)

    # ---- one decision: outbox first, then the door
    def _record(self, d: TrackDecision, frame: Frame | None) -> None:
        self.counters.decisions += 1
        if d.open_door:  # anti-passback may turn the grant down or mark it, before it is recorded
            check = self.controller.check(d.identity, self.cfg.direction)
            if not check.allowed:
                d = replace(d, decision=Decision.DENIED.value, open_door=False,
                            reasons=(*d.reasons, Reason.PASSBACK.value))
            elif check.passback:
                d = replace(d, reasons=(*d.reasons, Reason.PASSBACK.value))
        crop = face_crop_jpeg(frame.image, d.box) if frame is not None else None
        version = self.gallery.version
        seq = self._commit(lambda seq: self.events.from_decision(seq, d, version, crop))
        if seq is not None and d.open_door:
            self.controller.grant(self.remote.door_open_ms, "granted", seq, d.identity, self.cfg.direction)
            self.counters.door_opens += 1
        self.feed.publish("decision", {"seq": seq, "track_id": d.track_id, "identity": d.identity,
                                       "name": self.gallery.display_name(d.identity), "score": d.score,
                                       "decision": d.decision, "reasons": list(d.reasons),
                                       "temperature_c": d.temperature_c, "temperature_status": d.temperature_status,
                                       "face_jpeg": crop, "at": time.time()})

    def _door_event(self, e: DoorEvent) -> None:
        """A door event the rules raised; the door has already done what safety asks."""
        self.counters.door_events += 1
        seq = self._commit(lambda seq: self.events_factory().door_event(seq, e.reason, e.at))
        log.log(logging.WARNING if e.reason != Reason.EXIT_REQUEST else logging.INFO, "door: %s", e.reason.value)
        self.feed.publish("door", {"seq": seq, "reason": e.reason.value, "at": e.at})

    def _override_open(self, operator: str, reason: str, *, local: bool) -> int | None:
        """A guard's open, recorded first: None when the outbox refused it (the door stays shut)."""
        version = self.gallery.version
        seq = self._commit(lambda seq: self.events_factory().override_open(seq, operator, reason, version,
                                                                           local=local))
        if seq is not None:
            self.controller.grant(self.remote.door_open_ms, "local_open" if local else "remote_open", seq)
            self.counters.door_opens += 1
        self.feed.publish("override", {"seq": seq, "operator": operator, "reason": reason, "local": local,
                                       "at": time.time()})
        return seq

    def request_local_open(self, operator: str, reason: str) -> Future:
        """From the gate's status page (another thread): resolved with the event's seq, or None
        when the outbox refused it, once the loop has done it."""
        done: Future = Future()
        self._inbox.put(("local_open", (operator, reason, done)))
        return done

    def _commit(self, build) -> int | None:
        """The event on disk, or None (outbox full: nothing may act without its record)."""
        def make(seq: int) -> tuple[str, bytes]:
            event: EntryEvent = build(seq)
            return str(event.event_id), event.to_json()

        try:
            seq = self.outbox.append(make)
        except OutboxFull as exc:
            self.counters.outbox_full += 1
            log.error("%s — the door stays shut", exc.message)
            return None
        self.counters.events += 1
        self.link.notify()
        return seq

    # ---- what the server sent, applied between frames
    def _apply_inbox(self) -> None:
        while True:
            try:
                kind, item = self._inbox.get_nowait()
            except queue.Empty:
                return
            if kind == "command":
                self._command(item)
            elif kind == "gallery":
                self.gallery = item
                if self.pipeline is not None:
                    self.pipeline.reconfigure(gallery=item)
                self.link.republish_status()
            elif kind == "config":
                self._config(item)
            elif kind == "door":
                self._door_event(item)
            elif kind == "local_open":
                operator, reason, done = item
                done.set_result(self._override_open(operator, reason, local=True))

    def _command(self, cmd: Command) -> None:
        why = command_refusal(cmd, self.remote.command_ttl_s)
        if why is not None:
            self.counters.commands_refused += 1
            log.warning("command %s (%s by %s) refused: %s", cmd.command_id, cmd.kind.value, cmd.operator, why)
            return
        if cmd.kind == CommandKind.OPEN:
            self._override_open(cmd.operator, (cmd.reason or "").strip() or "remote open", local=False)
        elif cmd.kind == CommandKind.RELOAD:
            self.link.republish_status()
        else:
            log.info("command %s: %s is not supported by this gate yet", cmd.command_id, cmd.kind.value)

    def events_factory(self) -> EventFactory:
        if self.events is None:  # a command before the first frame
            self.events = EventFactory(self.cfg.site, self.cfg.gate, self.cfg.direction, self.engine.pack, None)
        return self.events

    def _config(self, msg: GateConfigMessage) -> None:
        try:
            remote = parse_remote_config(msg.config)
        except RemoteConfigError as exc:
            self.config_error = f"config v{msg.version} refused: {exc}"[:300]
            log.error("%s; keeping v%s", self.config_error, self.config_version)
            self.link.republish_status()
            return
        path = self.data_dir / REMOTE_CONFIG_FILE
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps({"version": msg.version, "config": msg.config}))
        os.replace(tmp, path)
        if self.pipeline is not None and remote.pipeline != self.remote.pipeline:
            self._finish_stream()  # the people in view are decided under the settings they were tracked with
            self.pipeline = None  # rebuilt with the new settings at the next frame
        elif self.pipeline is not None:
            self.pipeline.reconfigure(policy=remote.policy)
        self.remote, self.config_version, self.config_error = remote, msg.version, None
        self.link.republish_status()

    def _fetch_gallery(self, ann: GalleryAnnouncement) -> None:
        self.gallery_sync.apply(ann)
        if self.gallery_sync.last_error:
            self.link.republish_status()

    # ---- reporting
    def _status_fields(self) -> dict:
        return {"agent_version": AGENT_VERSION, "gallery_version": self.gallery.version,
                "config_version": self.config_version, "config_error": self.config_error,
                "gallery_error": self.gallery_sync.last_error, "pack": self.engine.pack}

    def state(self) -> dict:
        ob = self.outbox.stats()
        cap = self.capture.stats if self.capture is not None else None
        stages = self.pipeline.stats.stages if self.pipeline is not None else {}
        return {
            "pid": os.getpid(), "updated_at": datetime.now(UTC).isoformat(), "online": self.link.stats.connected,
            "last_seq": ob.last_seq, "acked_seq": ob.acked_seq, "outbox": ob.as_json(),
            "gallery_version": self.gallery.version, "config_version": self.config_version,
            "config_error": self.config_error, "gallery_error": self.gallery_sync.last_error,
            "camera": {"state": cap.state if cap else "starting", "captured": cap.captured if cap else 0,
                       "dropped_stale": cap.dropped_stale if cap else 0, "corrupt": cap.corrupt if cap else 0,
                       "reconnects": cap.reconnects if cap else 0, "last_error": cap.last_error if cap else None},
            "thermal": self.thermal.state() if self.thermal is not None else "starting",
            "door": self.door.state(), "door_io": self.controller.state(), "counters": vars(self.counters),
            "latency_ms": {name: round(1000 * st.wall_s / max(1, st.calls), 3) for name, st in stages.items()},
        }

    def _housekeeping(self) -> None:
        now = time.monotonic()
        if now - self._last_state_write < 2.0:
            return
        t0, frames0 = self._fps_mark
        fps = (self.counters.frames - frames0) / (now - t0) if now > t0 else 0.0
        self._last_state_write, self._fps_mark = now, (now, self.counters.frames)
        state = self.state()
        state["fps"] = round(fps, 1)
        self.last_state = state
        write_state(self.data_dir, state)
        self.link.publish_telemetry({"fps": state["fps"], "outbox_depth": state["outbox"]["depth"],
                                     "outbox_near_full": state["outbox"]["near_full"],
                                     "outbox_refused": self.counters.outbox_full,
                                     "latency_ms": state["latency_ms"], "camera": state["camera"]["state"],
                                     "thermal": state["thermal"], "door": state["door"],
                                     "door_open": state["door_io"].get("door_open"),
                                     "errors": self._errors(state),
                                     "box_temperatures_c": box_temperatures(), "rss_mb": rss_mb(),
                                     "at": state["updated_at"]})

    @staticmethod
    def _errors(state: dict) -> dict:
        """What is failing now, per part, for the server's Devices page (only the parts with an error;
        each cut to one line: telemetry is sent every 2 s)."""
        found = {"camera": state["camera"].get("last_error"), "gallery": state.get("gallery_error"),
                 "config": state.get("config_error"), "door_inputs": state["door_io"].get("inputs_error")}
        return {k: str(v).splitlines()[0][:200] for k, v in found.items() if v}

    def _shutdown(self) -> None:
        self.notifier.stopping()
        if self.capture is not None:
            self.capture.stop()
        if self.thermal is not None and self.thermal.supervisor is not None:
            self.thermal.supervisor.stop()
        self.link.stop()
        self._downloads.shutdown(wait=False, cancel_futures=True)
        state = self.state()
        state["online"] = False
        write_state(self.data_dir, state)
        self.outbox.close()
        self.controller.close()  # stops the input poll and locks the door


def write_state(data_dir: Path, state: dict) -> None:
    path = Path(data_dir) / STATE_FILE
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(state, default=str))
    os.replace(tmp, path)
