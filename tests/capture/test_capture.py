"""Capture in its thread: newest frame only, the watchdog, reconnection — on a real MJPEG-over-HTTP
camera process that the tests stall and kill, and on sources that fail the ways drivers do."""

from __future__ import annotations

import threading
import time

import cv2
import numpy as np
import pytest

from edge.capture.capture import Capture
from edge.capture.source import STALLED, UNPLUGGED, Frame, FrameSource, SourceError, open_source
from edge.capture.stream import DISCONNECTED, StreamSource
from edge.capture.v4l2 import V4L2Source, capture_settings, fourcc_code, mode_mismatch

from .helpers import SIZE, wait_until


class Counting(FrameSource):
    """Endless numbered frames as fast as asked, optionally failing: a stand-in for a driver."""

    def __init__(self, log: list, fail_on_open: int = 0, fail_after: int | None = None, block_after: int | None = None):
        self.log, self.fail_on_open, self.fail_after, self.block_after = log, fail_on_open, fail_after, block_after
        self.n = 0
        self.release = threading.Event()

    def open(self) -> None:
        self.log.append(("open", time.monotonic()))
        if len([e for e in self.log if e[0] == "open"]) <= self.fail_on_open:
            raise SourceError("device not ready", UNPLUGGED)

    def read(self) -> Frame:
        if self.fail_after is not None and self.n >= self.fail_after:
            raise OSError("usb transfer failed")  # not a SourceError: a driver bug or an OS error
        if self.block_after is not None and self.n >= self.block_after:
            self.release.wait(30)  # a read that never returns (hung USB)
        self.n += 1
        time.sleep(0.002)
        return Frame(np.full((4, 4, 3), self.n % 256, np.uint8), self.n - 1, time.monotonic())

    def close(self) -> None:
        self.log.append(("close", time.monotonic()))
        self.release.set()


def test_a_slow_consumer_gets_the_newest_frame_and_stale_ones_are_counted():
    log: list = []
    with Capture(lambda: Counting(log)) as cap:
        taken = []
        for _ in range(10):
            f = cap.latest(timeout=2)
            assert f is not None
            taken.append(f.index)
            time.sleep(0.03)  # the pipeline is busy: ~15 frames arrive meanwhile
        st = cap.stats
    assert taken == sorted(taken) and len(set(taken)) == 10
    assert taken[-1] - taken[0] > 3 * (len(taken) - 1)  # frames were skipped, not queued
    assert st.dropped_stale >= st.captured - st.delivered - 1 > 0
    assert st.delivered == 10


def test_a_failing_driver_reconnects_with_doubling_backoff():
    log: list = []
    states = []
    cap = Capture(lambda: Counting(log, fail_on_open=3), backoff=(0.05, 1.0), on_state=lambda s: states.append(s.state))
    with cap:
        assert cap.latest(timeout=5) is not None
        st = cap.stats
    opens = [t for kind, t in log if kind == "open"]
    gaps = [b - a for a, b in zip(opens, opens[1:], strict=False)][:3]
    assert len(opens) == 4 and st.reconnects == 0  # the first connection is no re-connection
    assert gaps[0] >= 0.045 and gaps[1] >= 0.09 and gaps[2] >= 0.18  # 0.05, 0.1, 0.2 s
    assert states[0] == "reconnecting" and "running" in states
    assert st.last_error == f"{UNPLUGGED}: device not ready"


def test_an_unexpected_driver_exception_does_not_end_capture():
    log: list = []
    with Capture(lambda: Counting(log, fail_after=5), backoff=(0.02, 0.05)) as cap:
        assert wait_until(lambda: cap.stats.reconnects >= 2, timeout=5)
        assert "OSError: usb transfer failed" in cap.stats.last_error
        assert cap.latest(timeout=2) is not None


def test_a_read_that_never_returns_is_abandoned_for_a_fresh_source():
    log: list = []
    sources: list[Counting] = []

    def factory():
        s = Counting(log, block_after=3 if not sources else None)
        sources.append(s)
        return s

    states = []
    with Capture(factory, stall_timeout=0.2, backoff=(0.02, 0.05), on_state=lambda s: states.append(s.state)) as cap:
        assert wait_until(lambda: len(sources) >= 2 and cap.stats.state == "running", timeout=5)
        assert cap.latest(timeout=2) is not None
    assert states[:4] == ["running", "stalled", "reconnecting", "running"]


def test_stream_from_a_real_mjpeg_camera_process(mjpeg_server):
    server = mjpeg_server()
    with StreamSource(server.url, open_timeout=5, read_timeout=5) as src:
        frames = [src.read() for _ in range(3)]
    assert [f.index for f in frames] == [0, 1, 2]
    assert frames[0].image.shape == (SIZE[1], SIZE[0], 3)


def test_a_stalled_stream_is_reported_and_a_killed_server_is_reconnected(mjpeg_server):
    stall = mjpeg_server("--stall-after", "5")
    with StreamSource(stall.url, open_timeout=3, read_timeout=1.0) as src:
        for _ in range(5):
            assert src.read() is not None
        with pytest.raises(SourceError) as err:
            src.read()
    assert err.value.code == STALLED

    server = mjpeg_server()
    states = []
    cap = Capture(lambda: StreamSource(server.url, open_timeout=2, read_timeout=1.0), stall_timeout=1.5,
                  backoff=(0.1, 0.4), on_state=lambda s: states.append((s.state, s.last_error)))
    with cap:
        assert cap.latest(timeout=10) is not None
        server.kill()  # the camera loses power
        assert wait_until(lambda: cap.stats.state == "reconnecting", timeout=10)
        assert cap.stats.last_error.split(":")[0] in (DISCONNECTED, STALLED, "open_failed")
        mjpeg_server(port=server.port)  # ... and comes back on the same address
        assert wait_until(lambda: cap.stats.state == "running" and cap.stats.reconnects >= 1, timeout=20)
        assert cap.latest(timeout=5) is not None


def test_v4l2_pixel_formats_and_mode_checks():
    # V4L2's own definitions (videodev2.h): v4l2_fourcc('M','J','P','G'), v4l2_fourcc('Y','U','Y','V')
    assert fourcc_code("MJPG") == 0x47504A4D
    assert fourcc_code("YUYV") == 0x56595559
    src = V4L2Source("/dev/video99", camera="generic-uvc-yuyv-480p")
    settings = capture_settings(src.profile)
    assert settings[0] == (cv2.CAP_PROP_FOURCC, float(0x56595559))  # the format decides the sizes offered
    assert mode_mismatch(src.profile, "MJPG", 1280, 720) is not None
    assert mode_mismatch(src.profile, src.profile.fourcc, src.profile.width, src.profile.height) is None


def test_an_unplugged_camera_is_a_clear_error_and_capture_keeps_trying(tmp_path):
    with pytest.raises(SourceError) as err:
        open_source("/dev/video99").open()
    assert err.value.code == UNPLUGGED and "/dev/video99" in str(err.value)
    with Capture(lambda: open_source("/dev/video99"), backoff=(0.02, 0.05)) as cap:
        assert wait_until(lambda: cap.stats.state == "reconnecting", timeout=5)
        assert cap.latest(timeout=0.2) is None
        assert cap.stats.last_error.startswith(UNPLUGGED)
