"""Wiegand-26 (HID H10301), the frame an access controller expects from a card reader: the gate
sends the resident's card on behalf of their face, so an existing controller can stay in charge.

    bit 0      even parity over bits 1-12
    bits 1-8   facility code (0-255), most significant bit first
    bits 9-24  card number (0-65535), most significant bit first
    bit 25     odd parity over bits 13-24

On the wire a 0 is a low pulse on D0 and a 1 a low pulse on D1, each `pulse_us` long, one every
`interval_us` (commonly 50-100 µs and 1-2 ms; the door profile says which).
"""

from __future__ import annotations

from dataclasses import dataclass


def encode_26(facility: int, card: int) -> str:
    """The 26 bits as a string of 0/1, first bit first."""
    if not 0 <= facility <= 0xFF:
        raise ValueError(f"facility code must be 0..255 (got {facility})")
    if not 0 <= card <= 0xFFFF:
        raise ValueError(f"card number must be 0..65535 (got {card})")
    data = f"{facility:08b}{card:016b}"
    even = data[:12].count("1") % 2  # makes bits 0-12 hold an even number of ones
    odd = 1 - data[12:].count("1") % 2  # makes bits 13-25 hold an odd number of ones
    return f"{even}{data}{odd}"


def decode_26(bits: str) -> tuple[int, int]:
    """(facility, card) of a frame; ValueError on a wrong length or parity."""
    if len(bits) != 26 or set(bits) - {"0", "1"}:
        raise ValueError("a Wiegand-26 frame is 26 characters of 0/1")
    if bits[:13].count("1") % 2 != 0 or bits[13:].count("1") % 2 != 1:
        raise ValueError("Wiegand-26 parity error")
    return int(bits[1:9], 2), int(bits[9:25], 2)


@dataclass(frozen=True)
class Pulse:
    line: str  # "D0" | "D1"
    start_us: int
    length_us: int


def pulse_train(bits: str, *, pulse_us: int = 100, interval_us: int = 2000) -> list[Pulse]:
    """When each data line is pulled low, relative to the start of the frame."""
    if not 0 < pulse_us < interval_us:
        raise ValueError("Wiegand timing: 0 < pulse_us < interval_us")
    return [Pulse("D1" if b == "1" else "D0", i * interval_us, pulse_us) for i, b in enumerate(bits)]
