"""Capture in its own thread: always the newest frame, a watchdog for stalls and unplugs, and
reconnection with exponential backoff (the pattern of edge/thermal/supervisor.py).

A stale frame (one the consumer did not take before the next arrived) is dropped and counted,
never queued: the gate decides on what the camera sees now, not on what it saw a second ago.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Literal

from edge.capture.source import STALLED, Frame, FrameSource, SourceError

log = logging.getLogger(__name__)

CaptureState = Literal["starting", "running", "stalled", "reconnecting", "ended", "stopped"]


@dataclass(frozen=True)
class CaptureStats:
    captured: int = 0  # frames read from the source(s)
    delivered: int = 0  # frames handed out by latest()
    dropped_stale: int = 0  # frames replaced by a newer one before anyone took them
    corrupt: int = 0  # frames the source(s) skipped as undecodable
    reconnects: int = 0  # successful re-opens after a failure
    state: CaptureState = "starting"
    last_error: str | None = None  # "code: message" of the last failure
    since: float = 0.0  # time.monotonic() of the last state change


class Capture:
    """Reads `source_factory()` sources in a thread and hands out the newest frame.

    - `latest(timeout)` returns the newest frame not handed out before, or None on timeout or
      once the source has ended (a file, folder or scene at its end: state "ended").
    - The watchdog marks the capture "stalled" when no frame came for `stall_timeout` seconds; a
      read that stays blocked for another `stall_timeout` is abandoned (a fresh source is opened,
      the stuck one is closed when its read returns). Any SourceError, or an unexpected exception
      from a driver, closes the source and reconnects after a backoff that doubles from
      `backoff[0]` to `backoff[1]` seconds and resets after a good frame.
    - `on_state(stats)` is called (from the capture threads) on every state change.
    - `lossless=True` makes the reader wait until the consumer took the frame instead of dropping
      it: for replaying a file through the whole pipeline, never for a live camera.
    """

    def __init__(self, source_factory: Callable[[], FrameSource], *, stall_timeout: float = 2.0,
                 backoff: tuple[float, float] = (0.5, 10.0),
                 on_state: Callable[[CaptureStats], None] | None = None, lossless: bool = False,
                 clock: Callable[[], float] = time.monotonic):
        if stall_timeout <= 0:
            raise ValueError("stall_timeout must be > 0")
        if not 0 < backoff[0] <= backoff[1]:
            raise ValueError("backoff must be (first, max) with 0 < first <= max")
        self._factory = source_factory
        self.stall_timeout = stall_timeout
        self.backoff = backoff
        self.lossless = lossless
        self._on_state = on_state
        self._clock = clock
        self._cond = threading.Condition()
        self._stats = CaptureStats(since=clock())
        self._pending: Frame | None = None  # newest frame not handed out yet
        self._last_frame_t = clock()
        self._corrupt_closed = 0  # corrupt counts of sources already closed
        self._generation = 0  # bumped to abandon a reader stuck in read()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    # ---- public
    @property
    def stats(self) -> CaptureStats:
        with self._cond:
            return self._stats

    def start(self) -> Capture:
        self._spawn_reader()
        wd = threading.Thread(target=self._watchdog, name="capture-watchdog", daemon=True)
        wd.start()
        self._threads.append(wd)
        return self

    def stop(self, timeout: float = 2.0) -> None:
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        for t in self._threads:
            t.join(timeout)
        if self.stats.state != "ended":
            self._set_state("stopped", self.stats.last_error)

    def __enter__(self) -> Capture:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def latest(self, timeout: float) -> Frame | None:
        deadline = self._clock() + timeout
        with self._cond:
            while self._pending is None:
                if self._stats.state in ("ended", "stopped") or self._stop.is_set():
                    return None
                left = deadline - self._clock()
                if left <= 0:
                    return None
                self._cond.wait(left)
            frame, self._pending = self._pending, None
            self._stats = replace(self._stats, delivered=self._stats.delivered + 1)
            self._cond.notify_all()
            return frame

    # ---- internals
    def _set_state(self, state: CaptureState, error: str | None) -> None:
        with self._cond:
            old = self._stats
            changed = state != old.state
            self._stats = replace(old, state=state, last_error=error if error is not None else old.last_error,
                                  since=self._clock() if changed else old.since)
            snapshot = self._stats
            self._cond.notify_all()
        if changed:
            log.info("capture %s → %s%s", old.state, state, f" ({error})" if error else "")
            if self._on_state is not None:
                try:
                    self._on_state(snapshot)
                except Exception:  # a listener's bug must not stop capture
                    log.exception("capture on_state callback failed")

    def _spawn_reader(self) -> None:
        with self._cond:
            self._generation += 1
            gen = self._generation
            self._last_frame_t = self._clock()
        t = threading.Thread(target=self._read_loop, args=(gen,), name=f"capture-{gen}", daemon=True)
        t.start()
        self._threads.append(t)

    def _current(self, gen: int) -> bool:
        return gen == self._generation and not self._stop.is_set()

    def _read_loop(self, gen: int) -> None:
        delay = self.backoff[0]
        opened_before = gen > 1
        while self._current(gen):
            source = None
            before = self._stats.captured
            try:
                source = self._factory()
                source.open()
                if opened_before:
                    with self._cond:
                        self._stats = replace(self._stats, reconnects=self._stats.reconnects + 1)
                opened_before = True
                if self._pump(source, gen):  # the source ended
                    return
                if not self._current(gen):
                    return
            except SourceError as exc:
                if not self._current(gen):
                    return
                self._set_state("reconnecting", f"{exc.code}: {exc.message}")
            except Exception as exc:  # a driver bug must not end capture for good
                if not self._current(gen):
                    return
                log.exception("capture source failed")
                self._set_state("reconnecting", f"error: {type(exc).__name__}: {exc}")
            finally:
                if source is not None:
                    with self._cond:
                        self._corrupt_closed += source.corrupt
                    # closing a dead device may fail any way; it must not stop recovery
                    with contextlib.suppress(Exception):
                        source.close()
            if self._stats.captured > before:  # it worked for a while: start the backoff afresh
                delay = self.backoff[0]
            if self._stop.wait(delay):
                return
            delay = min(self.backoff[1], delay * 2)

    def _pump(self, source: FrameSource, gen: int) -> bool:
        """Read until the source ends (True), the reader is superseded or stopped (False); raises
        what the source raises."""
        while self._current(gen):
            frame = source.read()
            if not self._current(gen):
                return False
            if frame is None:
                with self._cond:
                    self._stats = replace(self._stats, corrupt=self._corrupt_closed + source.corrupt)
                self._set_state("ended", None)
                return True
            with self._cond:
                if self.lossless:
                    while self._pending is not None and self._current(gen):
                        self._cond.wait(0.1)
                        self._last_frame_t = self._clock()  # waiting on the consumer is no stall
                st = self._stats
                stale = self._pending is not None
                self._pending = frame
                self._last_frame_t = self._clock()
                self._stats = replace(st, captured=st.captured + 1, dropped_stale=st.dropped_stale + stale,
                                      corrupt=self._corrupt_closed + source.corrupt)
                self._cond.notify_all()
            if self._stats.state != "running":
                self._set_state("running", None)
        return False

    def _watchdog(self) -> None:
        tick = min(0.05, self.stall_timeout / 4)
        while not self._stop.wait(tick):
            with self._cond:
                state = self._stats.state
                quiet = self._clock() - self._last_frame_t
            if state in ("ended", "stopped"):
                return
            if state == "running" and quiet > self.stall_timeout:
                self._set_state("stalled", f"{STALLED}: no frame for {quiet:.1f} s")
            elif state == "stalled" and quiet > 2 * self.stall_timeout:
                # the reader is stuck inside read(): give up on it and open a fresh source
                log.warning("capture reader blocked for %.1f s; opening a fresh source", quiet)
                self._set_state("reconnecting", f"{STALLED}: read blocked for {quiet:.1f} s")
                self._spawn_reader()
