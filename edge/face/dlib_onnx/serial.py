"""Primitive readers for dlib's binary serialisation format (dlib/serialize.h, dlib/float_details.h).

Each reader takes a `Stream` and advances it; anything unexpected raises `DlibFormatError` with the
byte offset, so a truncated or foreign file fails with one clear line instead of garbage weights.
"""

from __future__ import annotations

import math

import numpy as np

from edge.face.dlib_onnx.errors import DlibFormatError

# dlib/float_details.h: exponent values that mark the non-finite floats.
_IS_INF, _IS_NINF, _IS_NAN = 32000, 32001, 32002


class Stream:
    """A cursor over the bytes of a dlib .dat file."""

    def __init__(self, data: bytes):
        self.data = memoryview(data)
        self.pos = 0

    def take(self, n: int) -> memoryview:
        if self.pos + n > len(self.data):
            raise DlibFormatError(f"unexpected end of file at byte {self.pos} (wanted {n} more bytes)")
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    @property
    def at_end(self) -> bool:
        return self.pos == len(self.data)


def read_int(s: Stream) -> int:
    """dlib's variable-length integer (serialize.h pack_int/unpack_int).

    One control byte: bit 7 = negative (signed types only), low 4 bits = number of little-endian
    magnitude bytes that follow (0..8). Signed and unsigned types share this layout, so one
    reader serves int, long, unsigned long and int64 alike.
    """
    start = s.pos
    ctrl = s.take(1)[0]
    size = ctrl & 0x0F
    if size > 8 or ctrl & 0x70:
        raise DlibFormatError(f"bad integer control byte 0x{ctrl:02x} at byte {start}")
    mag = int.from_bytes(bytes(s.take(size)), "little") if size else 0
    return -mag if ctrl & 0x80 else mag


def read_float(s: Stream) -> float:
    """dlib's portable float: int64 mantissa then int16 exponent, value = mantissa * 2**exponent.

    serialize.h's deserialize_floating_point also accepts an older ASCII form, recognisable
    because its first byte has bits in 0x70; we reject it (no model of this network uses it).
    """
    if s.data[s.pos] & 0x70:
        raise DlibFormatError(f"old ASCII float encoding at byte {s.pos} is not supported")
    mantissa = read_int(s)
    exponent = read_int(s)
    if exponent == _IS_INF:
        return math.inf
    if exponent == _IS_NINF:
        return -math.inf
    if exponent == _IS_NAN:
        return math.nan
    return math.ldexp(float(mantissa), exponent)


def read_bool(s: Stream) -> bool:
    """serialize.h writes bool as the ASCII character '1' or '0'."""
    ch = s.take(1)[0]
    if ch not in (0x30, 0x31):
        raise DlibFormatError(f"bad bool byte 0x{ch:02x} at byte {s.pos - 1}")
    return ch == 0x31


def read_str(s: Stream) -> str:
    """std::string: unsigned length then the raw bytes."""
    n = read_int(s)
    if n < 0 or n > 4096:
        raise DlibFormatError(f"implausible string length {n} at byte {s.pos}")
    return bytes(s.take(n)).decode("latin-1")


def read_tensor(s: Stream) -> np.ndarray:
    """resizable_tensor (dnn/tensor.h, version 2): n, k, nr, nc, then little-endian IEEE float32s.

    The tensor body deliberately bypasses dlib's portable float encoding (see the comment in
    tensor.h's serialize), so it maps straight onto a numpy array.
    """
    version = read_int(s)
    if version != 2:
        raise DlibFormatError(f"unsupported tensor version {version} at byte {s.pos}")
    shape = tuple(read_int(s) for _ in range(4))
    if any(d < 0 for d in shape):
        raise DlibFormatError(f"negative tensor dimension {shape} at byte {s.pos}")
    count = int(np.prod(shape))
    raw = s.take(4 * count)
    return np.frombuffer(raw, dtype="<f4").astype(np.float32).reshape(shape)


def read_alias_tensor(s: Stream) -> tuple[int, int, int, int]:
    """alias_tensor (dnn/tensor.h, version 1): only the shape of a view into a layer's params."""
    version = read_int(s)
    if version != 1:
        raise DlibFormatError(f"unsupported alias_tensor version {version} at byte {s.pos}")
    return tuple(read_int(s) for _ in range(4))  # type: ignore[return-value]
