"""MLX90640 maths against Melexis' reference data, the dump format and the i2c-dev path."""

from __future__ import annotations

import numpy as np
import pytest

from edge.thermal import mlx90640 as m
from edge.thermal.errors import FrameFormatError, SensorTimeout

from .fake_i2c import FakeMlx90640Bus


def test_parameters_match_melexis_example(mlx_example):
    ee, *_ = mlx_example
    p = m.extract_parameters(ee)
    # expected values: Melexis "MLX90640 example data.xlsx", sheet "Calculated parameters"
    assert (p.k_vdd, p.vdd25) == (-3200, -12544)
    assert p.kv_ptat == pytest.approx(0.002197, abs=1e-6)
    assert p.kt_ptat == pytest.approx(42.625)
    assert p.v_ptat25 == 12196 and p.alpha_ptat == 9.0 and p.gain_ee == 5580
    assert p.cp_kv == pytest.approx(0.375) and p.cp_kta == pytest.approx(0.004272, abs=1e-6)
    assert p.resolution_ee == 2 and p.ks_ta == pytest.approx(-0.002441, abs=1e-6)
    assert p.cp_alpha == pytest.approx((2.8812792152e-09, 2.9037892091e-09), rel=1e-9)
    assert p.cp_offset == (-69, -65)
    assert p.ct[1:] == (0.0, 300.0, 500.0)
    assert p.ks_to == pytest.approx((-0.0002,) * 4, abs=1e-6)
    assert p.alpha[0] == pytest.approx(3.64125298802e-08, rel=1e-9)
    assert p.alpha[1] == pytest.approx(3.68781911675e-08, rel=1e-9)
    assert p.kv[:4] == pytest.approx([0.4375, 0.375, 0.4375, 0.375])


def test_temperatures_match_melexis_example_all_pixels(mlx_example):
    ee, f0, f1, expected = mlx_example
    dec = m.Mlx90640Decoder(ee)
    first = dec.feed(f0)
    assert not first.usable and "incomplete_subpages" in first.flags
    frame = dec.feed(f1)
    assert frame.usable and frame.celsius.shape == (24, 32)
    # the spreadsheet gives three decimals
    np.testing.assert_allclose(frame.celsius.reshape(-1), expected, atol=1e-3)


def test_datasheet_worked_example_values():
    """MLX90640 datasheet section 11.2 worked example: EEPROM 0x2410..0x243F as printed, every
    pixel word 0x08A0, RAM words as printed (input words as transcribed in mlx9064x-rs).

    The corner temperatures CT3/CT4 = 160/320 °C are the datasheet's printed values (page 45).
    The rest pins our outputs; kVdd -3168, Vdd25 -13056 and Ta 39.184 °C agree with the
    datasheet's printed example as far as it could be consulted. The Melexis example data set
    (test above) is the strict, all-pixel reference."""
    hdr = bytes.fromhex(
        "4210ffbb0202f202f2f2e2e2d1e1b1d1f10ff00fe0efe0efe1e1f3f2f404e504"
        "79a62f44ffdd221033332233ef019acceedc10ff2221333323330112eeffbbdd"
        "18ef2ff159529d6854540994695653542363e446fbb5044bf020979797972889")
    ee = np.zeros(832, dtype=np.int64)
    ee[16:64] = np.frombuffer(hdr, ">u2")
    ee[64:] = 0x08A0
    p = m.extract_parameters(ee)
    assert (p.k_vdd, p.vdd25, p.v_ptat25, p.gain_ee) == (-3168, -13056, 12273, 6383)
    assert p.kv_ptat == pytest.approx(0.005371, abs=1e-6) and p.kt_ptat == pytest.approx(42.25)
    assert p.ks_ta == pytest.approx(-0.001953, abs=1e-6) and p.tgc == 1.0
    assert p.ct[2:] == (160.0, 320.0)
    i = 11 * 32 + 15  # pixel (12, 16) in the datasheet's 1-based numbering
    assert p.offset[i] == -75
    assert p.alpha[i] == pytest.approx(1.262233e-7, rel=1e-6)
    assert p.kta[i] == pytest.approx(0.005127, abs=1e-6) and p.kv[i] == 0.5
    f = np.zeros(834, dtype=np.int64)
    f[:768] = 0x0261
    f[[768, 776, 778, 800, 808, 810]] = [0x4BF2, 0xFFCA, 0x1881, 0x06AF, 0xFFC8, 0xCCC5]
    f[832] = 0x1901
    vdd = m.get_vdd(f, p)
    assert vdd == pytest.approx(3.3186, abs=1e-4)
    assert m.get_ta(f, p) == pytest.approx(39.184, abs=1e-3)


def test_bad_pixel_is_interpolated_and_flagged(mlx_example):
    ee, f0, f1, expected = mlx_example
    ee = ee.copy()
    ee[64 + 5 * 32 + 10] = 0  # a failed pixel
    dec = m.Mlx90640Decoder(ee)
    dec.feed(f0)
    frame = dec.feed(f1)
    assert "bad_pixels_interpolated" in frame.flags
    img = expected.reshape(24, 32)
    nb = np.delete(img[4:7, 9:12].reshape(-1), 4)
    assert frame.celsius[5, 10] == pytest.approx(np.median(nb), abs=1e-3)


def test_dump_round_trip_and_errors(mlx_example):
    ee, f0, f1, expected = mlx_example
    blob = m.write_dump(ee, [f0, f1])
    assert len(blob) == 8 + 1664 + 2 * 1668
    frame = m.decode_dump(blob)
    np.testing.assert_allclose(frame.celsius.reshape(-1), expected, atol=1e-3)
    with pytest.raises(FrameFormatError, match="truncated"):
        m.read_dump(blob[:-10])
    with pytest.raises(FrameFormatError, match="magic"):
        m.read_dump(b"XXXX" + blob[4:])
    with pytest.raises(FrameFormatError, match="blank"):
        m.extract_parameters(np.zeros(832, dtype=np.int64))


def test_encode_is_inverse_of_calculation(mlx_example):
    ee, *_ = mlx_example
    p = m.extract_parameters(ee)
    rng = np.random.default_rng(1)
    target = rng.uniform(20, 40, 768)
    dec = m.Mlx90640Decoder(ee)
    for sp in (0, 1):
        frame = dec.feed(m.encode_subpage(p, target, ta_c=30.0, subpage=sp))
    # one raw count is ~0.2 K near body temperature: rounding error stays within half of it
    assert np.max(np.abs(frame.celsius.reshape(-1) - target)) < 0.15
    assert frame.state.fpa_c == pytest.approx(30.0, abs=0.1)


def test_i2c_reads_eeprom_and_subpages_through_smbus2(mlx_example):
    ee, f0, f1, expected = mlx_example
    bus = FakeMlx90640Bus(ee, [f0, f1], chunk_limit_bytes=64)  # an MCP2221-sized transfer limit
    dev = m.Mlx90640I2C(bus, chunk_words=32)
    np.testing.assert_array_equal(dev.read_eeprom(), ee)
    dec = m.Mlx90640Decoder(dev.read_eeprom())
    dec.feed(dev.read_subpage())
    frame = dec.feed(dev.read_subpage())
    np.testing.assert_allclose(frame.celsius.reshape(-1), expected, atol=1e-3)
    assert bus.status_writes == [0x0030, 0x0030]


def test_i2c_timeout_when_no_new_data(mlx_example):
    ee, f0, _, _ = mlx_example
    bus = FakeMlx90640Bus(ee, [], chunk_limit_bytes=4096)
    with pytest.raises(SensorTimeout):
        m.Mlx90640I2C(bus).read_subpage(timeout=0.05)
