"""Decoders on byte buffers built from each format's documented layout."""

from __future__ import annotations

import numpy as np
import pytest

from edge.thermal import decoders as d
from edge.thermal.errors import FrameFormatError
from edge.thermal.frame import FfcState


def _lepton_words(rng):
    # a radiometric scene: 20..37 °C in centikelvin, little-endian as the PureThermal sends it
    return rng.integers(29315, 31015, size=(120, 160)).astype("<u2")


def _telemetry_row_a(fpa_ck=30215, frame=4242, uptime=90_000, last_ffc=30_000, ffc_state=3):
    row = np.zeros(160, dtype="<u2")  # rows A and B share the first 160-word row
    row[0] = 14
    row[1], row[2] = uptime & 0xFFFF, uptime >> 16
    status = ffc_state << 4
    row[3], row[4] = status & 0xFFFF, status >> 16
    row[20], row[21] = frame & 0xFFFF, frame >> 16
    row[24] = fpa_ck
    row[26] = fpa_ck - 100
    row[30], row[31] = last_ffc & 0xFFFF, last_ffc >> 16
    return row


def test_lepton_plain_160x120_centikelvin():
    rng = np.random.default_rng(0)
    words = _lepton_words(rng)
    f = d.decode_lepton_y16(words.tobytes())
    assert (f.width, f.height) == (160, 120)
    np.testing.assert_allclose(f.celsius, words / 100.0 - 273.15, atol=1e-3)
    assert f.usable and "no_telemetry" in f.flags


@pytest.mark.parametrize("where", ["footer", "header"])
def test_lepton_telemetry_rows_parsed(where):
    rng = np.random.default_rng(1)
    words = _lepton_words(rng)
    tel = np.vstack([_telemetry_row_a(), np.zeros(160, dtype="<u2")])
    buf = np.vstack([words, tel] if where == "footer" else [tel, words]).tobytes()
    assert len(buf) == 160 * 122 * 2
    f = d.decode_lepton_y16(buf, telemetry=where)
    np.testing.assert_allclose(f.celsius, words / 100.0 - 273.15, atol=1e-3)
    assert f.state.fpa_c == pytest.approx(302.15 - 273.15)
    assert f.state.frame_counter == 4242 and f.state.uptime_ms == 90_000
    assert f.state.ffc_state == FfcState.COMPLETE and f.state.ms_since_ffc == 60_000
    assert f.usable


@pytest.mark.parametrize("ffc_state,last_ffc,flag", [(2, 0, "ffc_in_progress"), (1, 0, "ffc_imminent"),
                                                     (3, 89_700, "ffc_settling")])
def test_lepton_frames_around_ffc_are_not_usable(ffc_state, last_ffc, flag):
    words = _lepton_words(np.random.default_rng(2))
    tel = np.vstack([_telemetry_row_a(ffc_state=ffc_state, last_ffc=last_ffc), np.zeros(160, dtype="<u2")])
    f = d.decode_lepton_y16(np.vstack([words, tel]).tobytes())
    assert not f.usable and flag in f.flags


def test_32bit_telemetry_fields_are_lsw_first():
    words = _lepton_words(np.random.default_rng(3))
    tel = np.vstack([_telemetry_row_a(frame=0x12345, uptime=0x2_0000 + 7, last_ffc=5), np.zeros(160, "<u2")])
    f = d.decode_lepton_y16(np.vstack([words, tel]).tobytes())
    assert f.state.frame_counter == 0x12345 and f.state.uptime_ms == 0x20007


@pytest.mark.parametrize("size,match", [
    (160 * 120 * 2 - 320, "truncated"),   # one row missing
    (160 * 120 * 2 + 1, "whole number"),  # odd byte count
    (80 * 60 * 2, "expected"),            # a Lepton 2 frame is not a Lepton 3.5 frame
    (0, "expected"),
])
def test_lepton_bad_sizes_raise_clear_error(size, match):
    with pytest.raises(FrameFormatError, match=match):
        d.decode_lepton_y16(bytes(size))


def test_lepton_all_zero_frame_is_garbage():
    with pytest.raises(FrameFormatError, match="all-zero"):
        d.decode_lepton_y16(bytes(160 * 120 * 2))


def test_p2pro_split_frame_bottom_half_is_1_64_kelvin():
    rng = np.random.default_rng(4)
    top = rng.integers(0, 256, size=256 * 192 * 2, dtype=np.uint8)  # YUYV preview: ignored
    temps = rng.integers(int((20 + 273.15) * 64), int((40 + 273.15) * 64), size=(192, 256)).astype("<u2")
    f = d.decode_p2pro(top.tobytes() + temps.tobytes())
    assert (f.width, f.height) == (256, 192)
    np.testing.assert_allclose(f.celsius, temps / 64.0 - 273.15, atol=1e-4)
    # byte order: 0x4B 0x49 little-endian → 0x494B / 64 - 273.15
    one = np.zeros(192 * 256, "<u2")
    one[:] = 0x494B
    assert d.decode_p2pro(bytes(256 * 192 * 2) + one.tobytes()).celsius[0, 0] == pytest.approx(0x494B / 64 - 273.15)


@pytest.mark.parametrize("size", [256 * 384 * 2 - 2, 256 * 192 * 2, 256 * 384 * 3])
def test_p2pro_wrong_sizes_raise(size):
    with pytest.raises(FrameFormatError, match="p2pro"):
        d.decode_p2pro(bytes(size))


def test_encoders_round_trip():
    rng = np.random.default_rng(5)
    t = rng.uniform(15, 40, (120, 160))
    f = d.decode_lepton_y16(d.encode_lepton_y16(t, telemetry="footer"))
    # half an LSB (0.01 K) plus float32 rounding of the decoded value
    assert np.max(np.abs(f.celsius - t)) <= 0.005 + 3e-5
    t2 = rng.uniform(15, 40, (192, 256))
    f2 = d.decode_p2pro(d.encode_p2pro(t2))
    assert np.max(np.abs(f2.celsius - t2)) <= 1 / 128 + 3e-5
