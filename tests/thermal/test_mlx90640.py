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


# ---- the datasheet's worked example (MLX90640 datasheet, section 11.2) ---------------------------
# Input words as printed there (transcribed in the mlx9064x-rs project): EEPROM 0x2410..0x243F,
# every pixel word 0x08A0, RAM words of pixel (12, 16), Ta, Vdd, gain and the CP pixels.
# Printed intermediate values, as quoted from the datasheet by two other implementations
# (mlx9064x-rs src/calculations.rs tests; the Java package ceri.serial.mlx90640, RamDataBehavior
# "datasheet ===>" comments).
DS_PIXEL = 11 * 32 + 15  # pixel (12, 16) in the datasheet's 1-based numbering; subpage 0 in chess mode
DS_VDD = 3.319  # printed with 3 decimals
DS_TA = 39.18440152
DS_KGAIN = 1.01753546947234
DS_PIX_GAIN = 619.679100908656
DS_PIX_OS = 700.882495690866
DS_PIX_OS_CP_SP0 = 21.6315865670509
DS_VIR_COMPENSATED = 679.250909123826
DS_ALPHA_COMP = 1.1876487360496e-7
DS_TA_TR = 9516495632.56  # Tr^4 - (Tr^4 - Ta^4)/emissivity, emissivity 1
DS_TO = 80.36


@pytest.fixture(scope="module")
def datasheet():
    hdr = bytes.fromhex(
        "4210ffbb0202f202f2f2e2e2d1e1b1d1f10ff00fe0efe0efe1e1f3f2f404e504"
        "79a62f44ffdd221033332233ef019acceedc10ff2221333323330112eeffbbdd"
        "18ef2ff159529d6854540994695653542363e446fbb5044bf020979797972889")
    ee = np.zeros(832, dtype=np.int64)
    ee[16:64] = np.frombuffer(hdr, ">u2")
    ee[64:] = 0x08A0
    f = np.zeros(834, dtype=np.int64)
    f[:768] = 0x0261
    f[[768, 776, 778, 800, 808, 810]] = [0x4BF2, 0xFFCA, 0x1881, 0x06AF, 0xFFC8, 0xCCC5]
    f[832] = 0x1901  # chess mode, 18-bit resolution; f[833] = 0: subpage 0
    return m.extract_parameters(ee), f


def test_datasheet_worked_example_restored_parameters(datasheet):
    """Section 11.1's restored values for this EEPROM, as the datasheet prints them."""
    p, _ = datasheet
    assert (p.k_vdd, p.vdd25, p.v_ptat25, p.gain_ee) == (-3168, -13056, 12273, 6383)
    assert p.kv_ptat == pytest.approx(0.005371, abs=1e-6) and p.kt_ptat == pytest.approx(42.25)
    assert p.ks_ta == pytest.approx(-0.001953, abs=1e-6) and p.tgc == 1.0
    assert p.ct[2:] == (160.0, 320.0)
    assert p.offset[DS_PIXEL] == -75
    assert p.alpha[DS_PIXEL] == pytest.approx(1.262233e-7, rel=1e-6)
    assert p.kta[DS_PIXEL] == pytest.approx(0.005127, abs=1e-6) and p.kv[DS_PIXEL] == 0.5


def test_datasheet_worked_example_intermediates(datasheet):
    """Every intermediate of section 11.2 against the datasheet's printed value. The datasheet
    carries Ta = 39.184 and Vdd = 3.319 rounded into the later steps, hence the tolerances of
    alpha_comp and Ta_r (both ~1e-6 relative, from Ta's 2e-5 K)."""
    p, f = datasheet
    vdd = m.get_vdd(f, p)
    ta = m.get_ta(f, p, vdd)
    assert vdd == pytest.approx(DS_VDD, abs=5e-4)
    assert ta == pytest.approx(DS_TA, abs=5e-5)
    c = m.compensate(f, p, ta, vdd)
    assert c.gain == pytest.approx(DS_KGAIN, rel=1e-12)
    pix_gain = 609 * c.gain  # RAM word 0x0261 of pixel (12, 16)
    assert pix_gain == pytest.approx(DS_PIX_GAIN, abs=1e-9)
    assert pix_gain - c.pix_offset[DS_PIXEL] == pytest.approx(DS_PIX_OS, abs=1e-6)
    assert c.alpha_c[DS_PIXEL] == pytest.approx(DS_ALPHA_COMP, rel=2e-6)
    assert (ta + m.KELVIN) ** 4 == pytest.approx(DS_TA_TR, rel=1e-5)
    # pix_OS_CP_SP0 by the datasheet's own formula on its own printed inputs, worked by hand:
    # -54 * 1.01753546947234 - (-75) * (1 + 0.004577637 * (39.18440152 - 25)) * (1 + 0.5 * (3.319 - 3.3))
    assert c.cp == pytest.approx(25.68, abs=0.02)


def test_datasheet_to_formula_at_the_printed_intermediates():
    """Section 11.2.2.9 from the datasheet's own V_IR, alpha_comp and Ta_r: its printed To."""
    ks_to = -0.00080108642578125  # KsTo of this EEPROM (0x243D: -105 / 2^17)
    assert float(m.to_basic(DS_VIR_COMPENSATED, DS_ALPHA_COMP, DS_TA_TR, ks_to)) == pytest.approx(DS_TO, abs=0.005)


CP_REASON = ("the datasheet prints pix_OS_CP_SP0 = 21.6316, which does not follow from its own inputs "
             "(its formula on them gives 25.68; ours 25.667, as another implementation gets), so our V_IR "
             "is 4.03 lower and our To 0.21 °C lower. Our To also takes the extended-range step "
             "(11.2.2.9.1, as Melexis' library does: +0.064 °C) that the printed 80.36 leaves out. The "
             "768-pixel Melexis data set, which we match within 0.001 °C, is the reference.")


@pytest.mark.xfail(strict=True, reason=CP_REASON)
def test_datasheet_printed_cp_offset(datasheet):
    p, f = datasheet
    vdd = m.get_vdd(f, p)
    assert m.compensate(f, p, m.get_ta(f, p, vdd), vdd).cp == pytest.approx(DS_PIX_OS_CP_SP0, abs=0.01)


@pytest.mark.xfail(strict=True, reason=CP_REASON)
def test_datasheet_printed_final_to(datasheet):
    p, f = datasheet
    to, _, _ = m.calculate_to(f, p)
    assert to[DS_PIXEL] == pytest.approx(DS_TO, abs=0.01)


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
