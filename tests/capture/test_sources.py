"""Each source kind on real bytes: a video written from the photographs, a folder of JPEGs with
corrupt files in it, a synthetic scene; the dispatch of open_source and its errors."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from edge.capture.files import FolderSource, VideoFileSource
from edge.capture.source import Frame, Pacer, SourceError, open_source
from edge.capture.synthetic import SyntheticSource, named_scene

from .helpers import psnr, write_video


def test_video_file_gives_every_frame_in_order_with_media_time(tmp_path, photo_frames):
    frames = photo_frames * 2
    path = write_video(tmp_path / "walk.avi", frames, fps=20.0)
    with open_source(str(path)) as src:
        assert isinstance(src, VideoFileSource)
        got = list(src)
        assert src.fps == pytest.approx(20.0)
        assert src.corrupt == 0
    assert [f.index for f in got] == list(range(len(frames)))
    assert [f.timestamp for f in got] == pytest.approx([i / 20.0 for i in range(len(frames))])
    for f, original in zip(got, frames, strict=True):
        assert f.image.shape == original.shape and f.image.dtype == np.uint8
        assert psnr(f.image, original) > 30  # the same picture, through Motion JPEG


def test_a_damaged_frame_in_a_video_file_is_skipped_and_counted(tmp_path, photo_frames):
    path = write_video(tmp_path / "v.avi", photo_frames * 2)
    data = bytearray(path.read_bytes())
    soi = [i for i in range(len(data) - 1) if data[i] == 0xFF and data[i + 1] == 0xD8]
    assert len(soi) == 10
    data[soi[5] : soi[6]] = bytes(soi[6] - soi[5])  # frame 5 and the chunk header after it: zeros
    path.write_bytes(data)
    with open_source(str(path)) as src:
        got = list(src)
        corrupt = src.corrupt
    assert corrupt >= 1
    assert len(got) + corrupt == 10
    assert [f.index for f in got][:5] == [0, 1, 2, 3, 4] and 5 not in [f.index for f in got]
    assert all(b.index > a.index for a, b in zip(got, got[1:], strict=False))


def test_folder_skips_and_counts_corrupt_images(tmp_path, photo_frames):
    for i, img in enumerate(photo_frames[:4]):
        cv2.imwrite(str(tmp_path / f"{i * 2:03d}.jpg"), img)
    truncated = cv2.imencode(".jpg", photo_frames[4])[1].tobytes()[:300]
    (tmp_path / "001.jpg").write_bytes(truncated)
    (tmp_path / "003.png").write_text("not a picture")
    (tmp_path / "notes.txt").write_text("ignored: not an image file name")
    with open_source(str(tmp_path), fps=10) as src:
        assert isinstance(src, FolderSource)
        got = list(src)
        assert src.corrupt == 2
    assert [f.index for f in got] == [0, 2, 4, 5]  # sorted names: 000 001(bad) 002 003(bad) 004 006
    assert [f.timestamp for f in got] == pytest.approx([0.0, 0.2, 0.4, 0.5])
    for f, original in zip(got, photo_frames[:4], strict=True):
        assert psnr(f.image, original) > 30


def test_a_folder_without_images_and_missing_paths_are_clear_errors(tmp_path):
    (tmp_path / "readme.txt").write_text("x")
    with pytest.raises(SourceError) as e:
        open_source(str(tmp_path)).open()
    assert e.value.code == "unreadable" and "no image files" in e.value.message
    with pytest.raises(SourceError) as e:
        open_source(str(tmp_path / "nothing.mp4"))
    assert e.value.code == "not_found"
    junk = tmp_path / "junk.avi"
    junk.write_bytes(b"\x00" * 4096)
    with pytest.raises(SourceError) as e:
        open_source(str(junk)).open()
    assert e.value.code == "unreadable"
    for spec in ("", "ftp://camera/stream"):
        with pytest.raises(SourceError) as e:
            open_source(spec)
        assert e.value.code == "bad_spec"
        assert "\n" not in e.value.message


def test_synthetic_source_delivers_the_scene(faces_dir):
    src = open_source("synthetic:fever", width=640, height=360, faces_dir=faces_dir)
    assert isinstance(src, SyntheticSource) and src.fps == 25.0
    scene = named_scene("fever", faces_dir, width=640, height=360)
    with src:
        got = list(src)
    assert len(got) == len(scene)
    assert got[0].image.shape == (360, 640, 3)
    expected = [sf.frame for sf in scene]
    assert all(np.array_equal(a.image, b.image) and a.index == b.index for a, b in zip(got, expected, strict=True))
    with pytest.raises(SourceError) as e:
        open_source("synthetic:nope", faces_dir=faces_dir)
    assert e.value.code == "bad_spec" and "walkup" in e.value.message


class FakeClock:
    def __init__(self):
        self.t = 100.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.t

    def sleep(self, s: float) -> None:
        self.sleeps.append(s)
        self.t += s


def test_pacer_releases_media_time_at_its_own_rate_or_at_once():
    clock = FakeClock()
    p = Pacer(True, clock=clock, sleep=clock.sleep)
    for i in range(5):
        p.wait(i * 0.04)
        clock.t += 0.01  # the consumer's work between frames
    assert clock.sleeps == pytest.approx([0.03] * 4)
    clock.t += 1.0  # a late frame: no burst to catch up, the clock restarts from it
    clock.sleeps.clear()
    p.wait(0.20)
    p.wait(0.24)
    assert clock.sleeps == pytest.approx([0.04])
    fast = Pacer(False, clock=clock, sleep=clock.sleep)
    clock.sleeps.clear()
    for i in range(5):
        fast.wait(i * 0.04)
    assert clock.sleeps == []


def test_realtime_file_source_takes_at_least_its_media_duration(tmp_path, photo_frames):
    path = write_video(tmp_path / "v.avi", photo_frames, fps=25.0)
    import time

    with open_source(str(path), realtime=True) as src:
        t0 = time.monotonic()
        n = len(list(src))
        elapsed = time.monotonic() - t0
    assert n == 5
    assert elapsed >= 4 / 25.0 * 0.95  # a lower bound only: pacing sleeps, it never runs early


def test_frame_is_the_contract_type(tmp_path, photo_frames):
    path = write_video(tmp_path / "v.avi", photo_frames[:1])
    with open_source(str(path)) as src:
        f = src.read()
        assert src.read() is None
    assert isinstance(f, Frame) and f.index == 0 and f.timestamp == 0.0
