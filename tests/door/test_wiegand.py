"""Wiegand-26 frames for card numbers whose bits were worked out by hand from the H10301 layout
(even parity over bits 1-12, facility 8 bits, card 16 bits, odd parity over bits 13-24)."""

from __future__ import annotations

import json

import pytest

from edge.door.wiegand import decode_26, encode_26, pulse_train
from menwei.cli import main

# facility, card, frame: 1/1 has one 1 in each half (even bit 1, odd bit 0); 255/65535 twelve in
# each (even 0, odd 1); 18/52651 = 00010010 / 1100110110101011: four ones in the first half,
# eight in the second (even 0, odd 1)
KNOWN = [(1, 1, "1" + "00000001" + "0000000000000001" + "0"),
         (255, 65535, "0" + "1" * 24 + "1"),
         (0, 0, "0" + "0" * 24 + "1"),
         (18, 52651, "0" + "00010010" + "1100110110101011" + "1")]


@pytest.mark.parametrize(("facility", "card", "bits"), KNOWN)
def test_known_frames(facility, card, bits):
    assert encode_26(facility, card) == bits
    assert decode_26(bits) == (facility, card)


def test_a_flipped_bit_fails_parity_and_bad_numbers_are_refused():
    bits = encode_26(18, 52651)
    for i in range(26):
        flipped = bits[:i] + ("1" if bits[i] == "0" else "0") + bits[i + 1:]
        with pytest.raises(ValueError, match="parity"):
            decode_26(flipped)
    for facility, card in ((256, 1), (-1, 1), (1, 65536)):
        with pytest.raises(ValueError):
            encode_26(facility, card)


def test_pulse_train_puts_zeros_on_d0_and_ones_on_d1():
    train = pulse_train("1001", pulse_us=100, interval_us=2000)
    assert [(p.line, p.start_us, p.length_us) for p in train] == [
        ("D1", 0, 100), ("D0", 2000, 100), ("D0", 4000, 100), ("D1", 6000, 100)]
    with pytest.raises(ValueError):
        pulse_train("1", pulse_us=2000, interval_us=2000)


def test_the_installer_command(capsys):
    assert main(["edge", "door", "wiegand", "--facility", "18", "--card", "52651", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"bits": KNOWN[3][2], "facility": 18, "card": 52651}
    assert main(["edge", "door", "wiegand", "--facility", "300", "--card", "1"]) == 2
    assert "facility code must be 0..255" in capsys.readouterr().err
