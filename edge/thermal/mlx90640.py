"""Melexis MLX90640 (32x24): EEPROM parameter extraction and the datasheet's temperature
calculation, vectorised with numpy over all pixels of a subpage.

Follows the MLX90640 datasheet (section 11, "Calculating object temperature") and Melexis'
mlx90640-library. Checked against Melexis' example data set (EEPROM + two subpage frames ->
768 temperatures) and the datasheet's worked example; see tests/thermal/test_mlx90640.py.

Frame words are the 834-word layout the Melexis library uses: 832 RAM words (0x0400..0x073F),
then the control register 0x800D, then the subpage number (status register 0x8000 bit 0).
Temperatures come out as *apparent* temperatures (emissivity 1); the estimator applies the skin
emissivity for every sensor alike.
"""

from __future__ import annotations

import struct
import time
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from edge.thermal.errors import FrameFormatError, SensorTimeout, SensorUnavailable
from edge.thermal.frame import SensorState, ThermalFrame

KELVIN = 273.15
W, H = 32, 24
N_PIXELS = W * H
EE_WORDS = 832  # 0x2400..0x273F
RAM_WORDS = 832  # 0x0400..0x073F
FRAME_WORDS = RAM_WORDS + 2  # + control register, + subpage
EE_BASE, RAM_BASE = 0x2400, 0x0400
REG_STATUS, REG_CONTROL = 0x8000, 0x800D
TA_SHIFT = 8.0  # Melexis: in open air the reflected temperature is Ta - 8 °C

# RAM word indices (relative to 0x0400)
_TA_VBE, _CP_SP0, _GAIN, _TA_PTAT, _CP_SP1, _VDD_PIX = 768, 776, 778, 800, 808, 810

_idx = np.arange(N_PIXELS)
_ROW = _idx // W
_COL = _idx % W
IL_PATTERN = _ROW % 2  # interleaved mode: subpage = row parity
CHESS_PATTERN = IL_PATTERN ^ (_idx % 2)  # chess mode: subpage = (row + column) parity
# Melexis' "conversion pattern" for the interleaved/chess correction
_CONV_PATTERN = (((_idx + 2) // 4 - (_idx + 3) // 4 + (_idx + 1) // 4 - _idx // 4) * (1 - 2 * IL_PATTERN))
_SPLIT = 2 * IL_PATTERN + (_idx % 2)  # which of the 4 row/column-parity coefficients a pixel uses


def _s(value, bits: int):
    """Two's complement of an unsigned field `bits` wide (works on numpy arrays too)."""
    value = np.asarray(value, dtype=np.int64)
    return np.where(value >= (1 << (bits - 1)), value - (1 << bits), value)


def _nibbles(words: np.ndarray) -> np.ndarray:
    """Four signed 4-bit fields per word, least significant first (the OCC/ACC row/column tables)."""
    w = np.asarray(words, dtype=np.int64)
    n = np.stack([(w >> s) & 0xF for s in (0, 4, 8, 12)], axis=1).reshape(-1)
    return _s(n, 4)


@dataclass(frozen=True)
class Mlx90640Params:
    k_vdd: int
    vdd25: int
    kv_ptat: float
    kt_ptat: float
    v_ptat25: int
    alpha_ptat: float
    gain_ee: int
    tgc: float
    resolution_ee: int
    ks_ta: float
    ct: tuple[float, float, float, float]
    ks_to: tuple[float, float, float, float]
    cp_alpha: tuple[float, float]
    cp_offset: tuple[int, int]
    cp_kta: float
    cp_kv: float
    chess_calibrated: bool
    il_chess: tuple[float, float, float]
    alpha: np.ndarray  # 768 float64, sensitivity
    offset: np.ndarray  # 768 int
    kta: np.ndarray  # 768 float64
    kv: np.ndarray  # 768 float64
    broken: np.ndarray  # 768 bool: EEPROM word 0 → failed pixel
    outlier: np.ndarray  # 768 bool: outside calibration spec


def extract_parameters(ee) -> Mlx90640Params:
    """Restore the calibration parameters from the 832 EEPROM words (datasheet 11.1)."""
    e = np.asarray(ee, dtype=np.int64)
    if e.shape != (EE_WORDS,):
        raise FrameFormatError(f"mlx90640: EEPROM must be {EE_WORDS} words, got {e.size}")
    if not np.any(e[0x10:0x40]) or np.all(e[0x10:0x40] == 0xFFFF):
        raise FrameFormatError("mlx90640: EEPROM calibration block is blank (wrong device or bus error)")
    k_vdd = int(_s((e[51] >> 8) & 0xFF, 8)) * 32
    vdd25 = (((int(e[51]) & 0xFF) - 256) << 5) - 8192
    kv_ptat = float(_s((e[50] >> 10) & 0x3F, 6)) / 4096
    kt_ptat = float(_s(e[50] & 0x3FF, 10)) / 8
    v_ptat25 = int(_s(e[49], 16))
    alpha_ptat = (int(e[16]) & 0xF000) / 2**14 + 8
    gain_ee = int(_s(e[48], 16))
    tgc = float(_s(e[60] & 0xFF, 8)) / 32
    resolution_ee = (int(e[56]) & 0x3000) >> 12
    ks_ta = float(_s((e[60] >> 8) & 0xFF, 8)) / 8192

    step = ((int(e[63]) & 0x3000) >> 12) * 10
    ct3 = ((int(e[63]) & 0x00F0) >> 4) * step
    ct4 = ct3 + ((int(e[63]) & 0x0F00) >> 8) * step
    ks_to_scale = 1 << ((int(e[63]) & 0x000F) + 8)
    ks_to = tuple(float(_s(v, 8)) / ks_to_scale for v in
                  (e[61] & 0xFF, (e[61] >> 8) & 0xFF, e[62] & 0xFF, (e[62] >> 8) & 0xFF))

    # compensation pixel
    cp_alpha_scale = ((int(e[32]) & 0xF000) >> 12) + 27
    cp_off0 = int(_s(e[58] & 0x3FF, 10))
    cp_off1 = cp_off0 + int(_s((e[58] >> 10) & 0x3F, 6))
    cp_a0 = float(_s(e[57] & 0x3FF, 10)) / 2**cp_alpha_scale
    cp_a1 = (1 + float(_s((e[57] >> 10) & 0x3F, 6)) / 128) * cp_a0
    kta_scale1 = ((int(e[56]) & 0x00F0) >> 4) + 8
    kta_scale2 = int(e[56]) & 0x000F
    kv_scale = (int(e[56]) & 0x0F00) >> 8
    cp_kta = float(_s(e[59] & 0xFF, 8)) / 2**kta_scale1
    cp_kv = float(_s((e[59] >> 8) & 0xFF, 8)) / 2**kv_scale

    pix = e[64:64 + N_PIXELS]
    # sensitivity (alpha)
    acc_rem_scale = int(e[32]) & 0xF
    acc_col_scale = (int(e[32]) & 0xF0) >> 4
    acc_row_scale = (int(e[32]) & 0xF00) >> 8
    alpha_scale = ((int(e[32]) & 0xF000) >> 12) + 30
    alpha_ref = int(e[33])
    acc_row = _nibbles(e[34:40])
    acc_col = _nibbles(e[40:48])
    a_pix = _s((pix & 0x03F0) >> 4, 6) * (1 << acc_rem_scale)
    alpha = (alpha_ref + (acc_row[_ROW] << acc_row_scale) + (acc_col[_COL] << acc_col_scale) + a_pix)
    alpha = alpha.astype(np.float64) / 2.0**alpha_scale
    # offset
    occ_rem_scale = int(e[16]) & 0xF
    occ_col_scale = (int(e[16]) & 0xF0) >> 4
    occ_row_scale = (int(e[16]) & 0xF00) >> 8
    offset_ref = int(_s(e[17], 16))
    occ_row = _nibbles(e[18:24])
    occ_col = _nibbles(e[24:32])
    o_pix = _s((pix & 0xFC00) >> 10, 6) * (1 << occ_rem_scale)
    offset = offset_ref + (occ_row[_ROW] << occ_row_scale) + (occ_col[_COL] << occ_col_scale) + o_pix
    # Kta: row/column parity base (RoCo, RoCe, ReCo, ReCe) + per-pixel 3-bit delta
    kta_rc = np.array([_s((e[54] >> 8) & 0xFF, 8), _s((e[55] >> 8) & 0xFF, 8),
                       _s(e[54] & 0xFF, 8), _s(e[55] & 0xFF, 8)], dtype=np.int64)
    kta_pix = _s((pix & 0x000E) >> 1, 3) * (1 << kta_scale2)
    kta = (kta_rc[_SPLIT] + kta_pix).astype(np.float64) / 2.0**kta_scale1
    kv_t = np.array([_s((e[52] >> 12) & 0xF, 4), _s((e[52] >> 4) & 0xF, 4),
                     _s((e[52] >> 8) & 0xF, 4), _s(e[52] & 0xF, 4)], dtype=np.int64)
    kv = kv_t[_SPLIT].astype(np.float64) / 2.0**kv_scale
    # interleaved/chess correction
    chess_calibrated = (int(e[10]) & 0x0800) == 0
    il0 = float(_s(e[53] & 0x3F, 6)) / 16
    il1 = float(_s((e[53] & 0x07C0) >> 6, 5)) / 2
    il2 = float(_s((e[53] & 0xF800) >> 11, 5)) / 8

    return Mlx90640Params(
        k_vdd=k_vdd, vdd25=vdd25, kv_ptat=kv_ptat, kt_ptat=kt_ptat, v_ptat25=v_ptat25,
        alpha_ptat=alpha_ptat, gain_ee=gain_ee, tgc=tgc, resolution_ee=resolution_ee, ks_ta=ks_ta,
        ct=(-40.0, 0.0, float(ct3), float(ct4)), ks_to=ks_to,  # type: ignore[arg-type]
        cp_alpha=(cp_a0, cp_a1), cp_offset=(cp_off0, cp_off1), cp_kta=cp_kta, cp_kv=cp_kv,
        chess_calibrated=chess_calibrated, il_chess=(il0, il1, il2),
        alpha=alpha, offset=offset.astype(np.int64), kta=kta, kv=kv,
        broken=pix == 0, outlier=(pix & 1) == 1,
    )


def _frame(frame) -> np.ndarray:
    f = np.asarray(frame, dtype=np.int64)
    if f.shape != (FRAME_WORDS,):
        raise FrameFormatError(f"mlx90640: frame must be {FRAME_WORDS} words (832 RAM + control + subpage)")
    return f


def get_vdd(frame, p: Mlx90640Params) -> float:
    f = _frame(frame)
    resolution_ram = (int(f[832]) & 0x0C00) >> 10
    correction = 2.0**p.resolution_ee / 2.0**resolution_ram
    return (correction * float(_s(f[_VDD_PIX], 16)) - p.vdd25) / p.k_vdd + 3.3


def get_ta(frame, p: Mlx90640Params, vdd: float | None = None) -> float:
    f = _frame(frame)
    vdd = get_vdd(f, p) if vdd is None else vdd
    ptat = float(_s(f[_TA_PTAT], 16))
    vbe = float(_s(f[_TA_VBE], 16))
    denom = ptat * p.alpha_ptat + vbe
    if denom == 0:
        raise FrameFormatError("mlx90640: PTAT/VBE words are zero (garbage frame)")
    ptat_art = ptat / denom * 2.0**18
    return (ptat_art / (1 + p.kv_ptat * (vdd - 3.3)) - p.v_ptat25) / p.kt_ptat + 25


def _mode_is_chess(control: int) -> bool:
    return bool(control & 0x1000)


def subpage_mask(control: int, subpage: int) -> np.ndarray:
    pattern = CHESS_PATTERN if _mode_is_chess(control) else IL_PATTERN
    return pattern == subpage


def _alpha_corr_r(p: Mlx90640Params) -> np.ndarray:
    ks, ct = p.ks_to, p.ct
    a2 = 1 + ks[1] * ct[2]
    return np.array([1 / (1 + ks[0] * 40), 1.0, a2, a2 * (1 + ks[2] * (ct[3] - ct[2]))])


class Compensation(NamedTuple):
    """The terms of one subpage frame that do not depend on the object (datasheet 11.2.2.5-11.2.2.8)."""

    gain: float  # Kgain = GAIN_EE / RAM gain word
    pix_offset: np.ndarray  # 768: offset * (1 + Kta (Ta - 25)) * (1 + Kv (Vdd - 3.3)), subtracted from pix_gain
    il_term: np.ndarray | float  # interleaved/chess correction (0 when read in the calibrated mode)
    cp: float  # pix_OS_CP of the frame's subpage (TGC compensation pixel)
    alpha_c: np.ndarray  # 768 alpha_comp: (alpha - TGC alpha_CP) (1 + KsTa (Ta - 25))


def compensate(f: np.ndarray, p: Mlx90640Params, ta: float, vdd: float) -> Compensation:
    """Shared part of the forward and inverse calculation: gain, CP, per-pixel offset terms."""
    control, subpage = int(f[832]), int(f[833])
    gain = p.gain_ee / float(_s(f[_GAIN], 16))
    chess = _mode_is_chess(control)
    mode_differs = chess != p.chess_calibrated
    cp_scale = (1 + p.cp_kta * (ta - 25)) * (1 + p.cp_kv * (vdd - 3.3))
    cp0 = float(_s(f[_CP_SP0], 16)) * gain - p.cp_offset[0] * cp_scale
    cp1_off = p.cp_offset[1] + (p.il_chess[0] if mode_differs else 0.0)
    cp1 = float(_s(f[_CP_SP1], 16)) * gain - cp1_off * cp_scale
    pix_offset = p.offset * (1 + p.kta * (ta - 25)) * (1 + p.kv * (vdd - 3.3))
    il_term = 0.0
    if mode_differs:
        il_term = p.il_chess[2] * (2 * IL_PATTERN - 1) - p.il_chess[1] * _CONV_PATTERN
    cp = cp1 if subpage else cp0
    alpha_cp = p.cp_alpha[1] if subpage else p.cp_alpha[0]
    alpha_c = (p.alpha - p.tgc * alpha_cp) * (1 + p.ks_ta * (ta - 25))
    return Compensation(gain, pix_offset, il_term, cp, alpha_c)


def to_basic(ir, alpha_c, ta_tr: float, ks_to: float):
    """To (°C) of the basic range 0..CT3 (datasheet 11.2.2.9): ir = V_IR compensated, alpha_c =
    alpha compensated, ta_tr = Tr^4 - (Tr^4 - Ta^4)/emissivity in K^4, ks_to = KsTo of range 1."""
    sx = ks_to * np.sqrt(np.sqrt(np.maximum(alpha_c**3 * (ir + alpha_c * ta_tr), 0.0)))
    return np.sqrt(np.sqrt(np.maximum(ir / (alpha_c * (1 - ks_to * KELVIN) + sx) + ta_tr, 0.0))) - KELVIN


def to_extended(to, ir, alpha_c, ta_tr: float, p: Mlx90640Params):
    """To (°C) recomputed in the range the basic To falls in (datasheet 11.2.2.9.1, as Melexis'
    library does for every pixel): the range's alpha correction and KsTo around its corner."""
    ct = np.asarray(p.ct)
    rng = np.clip(np.searchsorted(ct, to, side="right") - 1, 0, 3)
    corr = _alpha_corr_r(p)[rng]
    ks = np.asarray(p.ks_to)[rng]
    return np.sqrt(np.sqrt(np.maximum(ir / (alpha_c * corr * (1 + ks * (to - ct[rng]))) + ta_tr, 0.0))) - KELVIN


def calculate_to(frame, p: Mlx90640Params, emissivity: float = 1.0, tr: float | None = None,
                 out: np.ndarray | None = None) -> tuple[np.ndarray, float, float]:
    """Object temperature of this subpage's pixels (datasheet 11.2.2.8-9, extended ranges).

    Writes into ``out`` (768, NaN-initialised if None) only the pixels of the frame's subpage;
    returns (out, Ta, Vdd).
    """
    f = _frame(frame)
    vdd = get_vdd(f, p)
    ta = get_ta(f, p, vdd)
    tr = ta - TA_SHIFT if tr is None else tr
    ta4 = (ta + KELVIN) ** 4
    tr4 = (tr + KELVIN) ** 4
    ta_tr = tr4 - (tr4 - ta4) / emissivity
    gain, pix_offset, il_term, cp, alpha_c = compensate(f, p, ta, vdd)
    mask = subpage_mask(int(f[832]), int(f[833]))
    ir = _s(f[:N_PIXELS], 16).astype(np.float64) * gain - pix_offset + il_term
    ir = (ir - p.tgc * cp) / emissivity
    ir, a = ir[mask], alpha_c[mask]
    to = to_extended(to_basic(ir, a, ta_tr, p.ks_to[1]), ir, a, ta_tr, p)
    if out is None:
        out = np.full(N_PIXELS, np.nan)
    out[mask] = to
    return out, ta, vdd


def fix_bad_pixels(to: np.ndarray, bad: np.ndarray) -> np.ndarray:
    """Replace failed/outlier pixels by the median of their valid 8-neighbours (datasheet 6.2
    allows any neighbour interpolation; the median ignores a hot neighbour)."""
    img = to.reshape(H, W).copy()
    badm = bad.reshape(H, W)
    for r, c in zip(*np.nonzero(badm), strict=True):
        r0, r1, c0, c1 = max(r - 1, 0), min(r + 2, H), max(c - 1, 0), min(c + 2, W)
        nb = img[r0:r1, c0:c1][~badm[r0:r1, c0:c1]]
        nb = nb[np.isfinite(nb)]
        img[r, c] = float(np.median(nb)) if nb.size else np.nan
    return img.reshape(-1)


class Mlx90640Decoder:
    """Turns successive subpage frames into full 32x24 ThermalFrames.

    The sensor delivers half the pixels per subpage; a frame is usable once both halves were
    seen. Bad pixels listed in the EEPROM are interpolated and flagged.
    """

    def __init__(self, eeprom, emissivity: float = 1.0):
        self.params = extract_parameters(eeprom)
        self.emissivity = emissivity
        self._to = np.full(N_PIXELS, np.nan)
        self._seen = [False, False]
        self._count = 0

    def feed(self, frame, timestamp: float | None = None) -> ThermalFrame:
        f = _frame(frame)
        subpage = int(f[833])
        if subpage not in (0, 1):
            raise FrameFormatError(f"mlx90640: subpage must be 0 or 1, got {subpage}")
        _, ta, vdd = calculate_to(f, self.params, self.emissivity, out=self._to)
        self._seen[subpage] = True
        self._count += 1
        flags: list[str] = []
        bad = self.params.broken | self.params.outlier
        image = fix_bad_pixels(self._to, bad) if bad.any() else self._to.copy()
        if bad.any():
            flags.append("bad_pixels_interpolated")
        usable = all(self._seen)
        if not usable:
            flags.append("incomplete_subpages")
        if not np.isfinite(ta) or not -40 <= ta <= 125:
            raise FrameFormatError(f"mlx90640: implausible sensor temperature {ta:.1f} °C (garbage frame)")
        return ThermalFrame(
            celsius=np.nan_to_num(image, nan=ta - TA_SHIFT).reshape(H, W).astype(np.float32),
            format="mlx90640", timestamp=time.monotonic() if timestamp is None else timestamp,
            state=SensorState(fpa_c=ta, vdd=vdd, frame_counter=self._count),
            usable=usable, flags=tuple(flags),
        )


# ---------------------------------------------------------------- dump format (docs/THERMAL.md)
DUMP_MAGIC = b"MLXD"
DUMP_VERSION = 1


def write_dump(eeprom, frames) -> bytes:
    """EEPROM + subpage frames as one file: see docs/THERMAL.md, "MLX90640 dump format"."""
    ee = np.asarray(eeprom, dtype=np.uint16)
    frames = [np.asarray(f, dtype=np.int64) for f in frames]
    if ee.shape != (EE_WORDS,) or not 1 <= len(frames) <= 2:
        raise ValueError("dump needs 832 EEPROM words and one or two frames")
    out = [DUMP_MAGIC, struct.pack("<HH", DUMP_VERSION, len(frames)), ee.astype(">u2").tobytes()]
    for f in frames:
        f = _frame(f)
        status = int(f[833]) & 1
        out.append((f[:RAM_WORDS] & 0xFFFF).astype(">u2").tobytes())
        out.append(struct.pack(">HH", int(f[832]) & 0xFFFF, status))
    return b"".join(out)


def read_dump(data: bytes) -> tuple[np.ndarray, list[np.ndarray]]:
    """Parse a dump into (EEPROM words, [834-word frames]); FrameFormatError if malformed."""
    if len(data) < 8 or data[:4] != DUMP_MAGIC:
        raise FrameFormatError("mlx90640: not an MLX90640 dump (missing 'MLXD' magic)")
    version, count = struct.unpack_from("<HH", data, 4)
    if version != DUMP_VERSION:
        raise FrameFormatError(f"mlx90640: dump version {version} not supported (expected {DUMP_VERSION})")
    if count not in (1, 2):
        raise FrameFormatError(f"mlx90640: dump holds {count} frames; expected 1 or 2")
    frame_bytes = RAM_WORDS * 2 + 4
    expected = 8 + EE_WORDS * 2 + count * frame_bytes
    if len(data) != expected:
        raise FrameFormatError(f"mlx90640: dump is {len(data)} bytes, expected {expected} for {count} frame(s); "
                               "truncated?")
    ee = np.frombuffer(data, dtype=">u2", count=EE_WORDS, offset=8).astype(np.int64)
    frames = []
    off = 8 + EE_WORDS * 2
    for _ in range(count):
        ram = np.frombuffer(data, dtype=">u2", count=RAM_WORDS, offset=off).astype(np.int64)
        control, status = struct.unpack_from(">HH", data, off + RAM_WORDS * 2)
        frames.append(np.concatenate([ram, [control, status & 1]]))
        off += frame_bytes
    return ee, frames


def decode_dump(data: bytes) -> ThermalFrame:
    ee, frames = read_dump(data)
    dec = Mlx90640Decoder(ee)
    frame = None
    for f in frames:
        frame = dec.feed(f)
    assert frame is not None
    return frame


# ---------------------------------------------------------------- inverse, for the simulator
def encode_subpage(p: Mlx90640Params, to_c: np.ndarray, ta_c: float, subpage: int, control: int = 0x1901,
                   vdd: float = 3.3, rng: np.random.Generator | None = None, noise_counts: float = 0.0) -> np.ndarray:
    """834 frame words whose decode gives ``to_c`` (apparent, emissivity 1) on this subpage.

    Exact inverse of calculate_to up to the 16-bit rounding of the raw words; used by the
    simulator so that simulated MLX90640 data goes through the real calculation.
    """
    f = np.zeros(FRAME_WORDS, dtype=np.int64)
    f[832], f[833] = control, subpage
    resolution_ram = (control & 0x0C00) >> 10
    correction = 2.0**p.resolution_ee / 2.0**resolution_ram
    f[_VDD_PIX] = int(round((p.vdd25 + (vdd - 3.3) * p.k_vdd) / correction)) & 0xFFFF
    vdd_act = get_vdd(f, p)
    ptat_art = ((ta_c - 25) * p.kt_ptat + p.v_ptat25) * (1 + p.kv_ptat * (vdd_act - 3.3))
    vbe = 19500
    f[_TA_VBE] = vbe
    f[_TA_PTAT] = int(round(ptat_art * vbe / (2.0**18 - ptat_art * p.alpha_ptat))) & 0xFFFF
    ta = get_ta(f, p, vdd_act)
    f[_GAIN] = p.gain_ee & 0xFFFF
    cp_scale = (1 + p.cp_kta * (ta - 25)) * (1 + p.cp_kv * (vdd_act - 3.3))
    f[_CP_SP0] = int(round(p.cp_offset[0] * cp_scale)) & 0xFFFF
    f[_CP_SP1] = int(round(p.cp_offset[1] * cp_scale)) & 0xFFFF
    gain, pix_offset, il_term, cp, alpha_c = compensate(f, p, ta, vdd_act)
    ta_tr = (ta + KELVIN) ** 4  # emissivity 1
    to = np.asarray(to_c, dtype=np.float64).reshape(-1)
    ct = np.asarray(p.ct)
    rng_i = np.clip(np.searchsorted(ct, to, side="right") - 1, 0, 3)
    corr = _alpha_corr_r(p)[rng_i] * (1 + np.asarray(p.ks_to)[rng_i] * (to - ct[rng_i]))
    ir = alpha_c * corr * ((to + KELVIN) ** 4 - ta_tr)
    raw = (ir + p.tgc * cp + pix_offset - il_term) / gain
    if noise_counts and rng is not None:
        raw = raw + rng.normal(0.0, noise_counts, raw.shape)
    raw = np.clip(np.rint(raw), -32768, 32767).astype(np.int64) & 0xFFFF
    mask = subpage_mask(control, subpage)
    f[:N_PIXELS] = np.where(mask, raw, 0)
    return f


# ---------------------------------------------------------------- Linux i2c-dev access (smbus2)
class Mlx90640I2C:
    """Register access over Linux i2c-dev with smbus2 ``i2c_rdwr`` block reads.

    Works for a native I2C bus and for an MCP2221 USB bridge (kernel hid-mcp2221 exposes it as
    /dev/i2c-N); ``chunk_words`` bounds each read for bridges with small transfer limits.
    Words on the wire are big-endian.
    """

    def __init__(self, bus, address: int = 0x33, chunk_words: int = 416):
        self.bus = bus
        self.address = address
        self.chunk_words = chunk_words

    def read_words(self, register: int, count: int) -> np.ndarray:
        from smbus2 import i2c_msg

        out = []
        done = 0
        try:
            while done < count:
                n = min(self.chunk_words, count - done)
                reg = register + done
                w = i2c_msg.write(self.address, [(reg >> 8) & 0xFF, reg & 0xFF])
                r = i2c_msg.read(self.address, n * 2)
                self.bus.i2c_rdwr(w, r)
                out.append(np.frombuffer(bytes(r), dtype=">u2"))
                done += n
        except OSError as exc:
            raise SensorUnavailable(f"mlx90640: I2C read at 0x{register:04X} failed: {exc}") from exc
        return np.concatenate(out).astype(np.int64)

    def write_word(self, register: int, value: int) -> None:
        from smbus2 import i2c_msg

        msg = i2c_msg.write(self.address, [(register >> 8) & 0xFF, register & 0xFF,
                                           (value >> 8) & 0xFF, value & 0xFF])
        try:
            self.bus.i2c_rdwr(msg)
        except OSError as exc:
            raise SensorUnavailable(f"mlx90640: I2C write at 0x{register:04X} failed: {exc}") from exc

    def read_eeprom(self) -> np.ndarray:
        return self.read_words(EE_BASE, EE_WORDS)

    def set_refresh_rate(self, code: int) -> None:
        """Refresh-rate code 0..7 (0.5 Hz .. 64 Hz) into control register bits 7..9."""
        ctrl = int(self.read_words(REG_CONTROL, 1)[0])
        self.write_word(REG_CONTROL, (ctrl & 0xFC7F) | ((code & 0x7) << 7))

    def read_subpage(self, timeout: float = 1.0, poll: float = 0.005) -> np.ndarray:
        """Wait for 'new data' (status bit 3), read RAM, clear the flag; 834 frame words."""
        deadline = time.monotonic() + timeout
        while True:
            status = int(self.read_words(REG_STATUS, 1)[0])
            if status & 0x0008:
                break
            if time.monotonic() >= deadline:
                raise SensorTimeout(f"mlx90640: no new data within {timeout:.1f} s")
            time.sleep(poll)
        ram = self.read_words(RAM_BASE, RAM_WORDS)
        control = int(self.read_words(REG_CONTROL, 1)[0])
        # clear "new data", keep RAM overwrite enabled (Melexis writes 0x0030)
        self.write_word(REG_STATUS, 0x0030)
        return np.concatenate([ram, [control, status & 0x0001]])
