"""Keeps a thermal source alive: detects unplug, stall and garbage within a second, makes the
readings "unavailable" meanwhile, and reconnects when the device comes back. Never raises into
the gate loop."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from edge.thermal.errors import FrameFormatError, SensorTimeout, SensorUnavailable, ThermalError
from edge.thermal.frame import ThermalFrame

log = logging.getLogger(__name__)


class SourceState(StrEnum):
    STARTING = "starting"
    OK = "ok"
    STALLED = "stalled"
    DISCONNECTED = "disconnected"
    GARBAGE = "garbage"
    STOPPED = "stopped"


@dataclass(frozen=True)
class SupervisorStatus:
    state: SourceState
    since: float
    frames: int
    reconnects: int
    garbage_frames: int
    last_error: str | None


def plausibility_error(frame: ThermalFrame) -> str | None:
    """Why a decoded frame is garbage, or None. Real scenes are never flat nor NaN, and a gate
    never sees most of its pixels outside -40..150 °C."""
    c = frame.celsius
    if not np.all(np.isfinite(c)):
        return "non-finite pixels"
    out = np.count_nonzero((c < -40) | (c > 150))
    if out > 0.05 * c.size:
        return f"{out} pixels outside -40..150 °C"
    if float(c.max() - c.min()) < 1e-3:
        return "flat frame"
    return None


class ThermalSupervisor:
    """Runs ``source_factory()`` sources in a thread and serves the latest fresh frame.

    ``latest()`` returns None (→ "unavailable") when the last good frame is older than
    ``stall_timeout`` or the source is in a bad state; the worst case from a fault to
    "unavailable" is therefore stall_timeout (default 0.5 s) plus one frame period.
    """

    def __init__(self, source_factory: Callable[[], object], stall_timeout: float = 0.5,
                 max_backoff: float = 1.0, garbage_reconnect: int = 3, clock=time.monotonic):
        self._factory = source_factory
        self.stall_timeout = stall_timeout
        self.max_backoff = max_backoff
        self.garbage_reconnect = garbage_reconnect
        self._clock = clock
        self._lock = threading.Lock()
        self._latest: ThermalFrame | None = None
        self._latest_t = 0.0
        self._state = SourceState.STARTING
        self._since = clock()
        self._frames = 0
        self._reconnects = 0
        self._garbage = 0
        self._error: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # ---- public
    def start(self) -> ThermalSupervisor:
        self._thread = threading.Thread(target=self._run, name="thermal-supervisor", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 2.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self._set_state(SourceState.STOPPED, None)

    def __enter__(self) -> ThermalSupervisor:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def latest(self) -> ThermalFrame | None:
        """The newest good frame if it is fresh and the source is healthy, else None."""
        with self._lock:
            if self._state != SourceState.OK or self._latest is None:
                return None
            if self._clock() - self._latest_t > self.stall_timeout:
                return None
            return self._latest

    def status(self) -> SupervisorStatus:
        with self._lock:
            state = self._state
            if state == SourceState.OK and self._clock() - self._latest_t > self.stall_timeout:
                state = SourceState.STALLED
            return SupervisorStatus(state, self._since, self._frames, self._reconnects, self._garbage, self._error)

    # ---- worker
    def _set_state(self, state: SourceState, error: str | None) -> None:
        with self._lock:
            if state != self._state:
                log.info("thermal source %s → %s%s", self._state.value, state.value, f" ({error})" if error else "")
                self._state = state
                self._since = self._clock()
            self._error = error
            if state != SourceState.OK:
                self._latest = None

    def _run(self) -> None:
        backoff = 0.05
        first = True
        while not self._stop.is_set():
            source = None
            try:
                source = self._factory()
                source.open()
                if not first:
                    self._reconnects += 1
                first = False
                backoff = 0.05
                self._pump(source)
            except SensorTimeout as exc:
                self._set_state(SourceState.STALLED, str(exc))
            except (SensorUnavailable, OSError) as exc:
                self._set_state(SourceState.DISCONNECTED, str(exc))
            except FrameFormatError as exc:
                self._set_state(SourceState.GARBAGE, str(exc))
            except ThermalError as exc:
                self._set_state(SourceState.DISCONNECTED, str(exc))
            except Exception as exc:  # a driver bug must not kill screening for good
                log.exception("thermal source failed")
                self._set_state(SourceState.DISCONNECTED, f"{type(exc).__name__}: {exc}")
            finally:
                if source is not None:
                    # closing a dead device may fail any way; it must not stop recovery
                    with contextlib.suppress(Exception):
                        source.close()
            if self._stop.wait(backoff):
                break
            backoff = min(self.max_backoff, backoff * 2)

    def _pump(self, source) -> None:
        bad_in_row = 0
        while not self._stop.is_set():
            try:
                frame = source.read(timeout=self.stall_timeout)
            except FrameFormatError as exc:
                bad_in_row += 1
                self._garbage += 1
                self._set_state(SourceState.GARBAGE, str(exc))
                if bad_in_row >= self.garbage_reconnect:
                    raise
                continue
            err = plausibility_error(frame)
            if err:
                bad_in_row += 1
                self._garbage += 1
                self._set_state(SourceState.GARBAGE, err)
                if bad_in_row >= self.garbage_reconnect:
                    raise FrameFormatError(f"{getattr(source, 'name', 'source')}: {err}")
                continue
            bad_in_row = 0
            with self._lock:
                self._latest = frame
                self._latest_t = self._clock()
                self._frames += 1
            self._set_state(SourceState.OK, None)
