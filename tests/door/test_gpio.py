"""GPIO door I/O through gpiod's real API objects (LineSettings, Value), with a line request that
records what the lines do instead of a chip (no /dev/gpiochip here)."""

from __future__ import annotations

import time

import pytest
from gpio_lines import RecordedLines
from gpiod.line import Bias, Direction, Value

from edge.door.gpio import GpioError, GpioInputs, GpioRelay, LineSpec, WiegandOutput
from edge.door.wiegand import decode_26, encode_26


def test_relay_line_settings_and_values():
    lines = RecordedLines()
    relay = GpioRelay("/dev/gpiochip0", LineSpec(17, active_low=True), request_lines=lines)
    s = lines.config[17]
    assert (s.direction, s.active_low, s.output_value) == (Direction.OUTPUT, True, Value.INACTIVE)  # locked at start
    relay.set(True)
    relay.set(False)
    assert [(o, v) for _, o, v in lines.writes] == [(17, Value.ACTIVE), (17, Value.INACTIVE)]
    relay.close()
    assert lines.released


def test_inputs_read_as_active_with_their_polarity_and_pulls():
    # exit button to ground with a pull-up (active low) is pressed; the door contact is closed;
    # the fire contact is not wired
    lines = RecordedLines({22: Value.ACTIVE, 27: Value.INACTIVE})
    inputs = GpioInputs("/dev/gpiochip0", exit_button=LineSpec(22, active_low=True, pull="up"),
                        door_contact=LineSpec(27, pull="down"), request_lines=lines)
    assert lines.config[22].bias == Bias.PULL_UP and lines.config[22].active_low
    assert lines.config[27].bias == Bias.PULL_DOWN
    st = inputs.read()
    assert (st.exit_pressed, st.door_open, st.fire_alarm) == (True, False, None)


def test_wiegand_frame_on_the_lines_decodes_back_with_its_timing():
    lines = RecordedLines()
    clock_reads: list[int] = []

    def clock() -> int:
        clock_reads.append(time.perf_counter_ns())
        return clock_reads[-1]

    out = WiegandOutput("/dev/gpiochip0", LineSpec(5), LineSpec(6), pulse_us=100, interval_us=1000,
                        request_lines=lines, clock_ns=clock)
    out.send(encode_26(18, 52651))
    t0 = clock_reads[0]
    pulses = [(t, o) for t, o, v in lines.writes if v == Value.ACTIVE]
    releases = [t for t, _o, v in lines.writes if v == Value.INACTIVE]
    assert len(pulses) == 26 == len(releases)
    # what a controller reads: a pulse on D1 (line 6) is a 1, on D0 (line 5) a 0
    bits = "".join("1" if o == 6 else "0" for _, o in pulses)
    assert decode_26(bits) == (18, 52651)
    # bit i is never pulled before t0 + i x 1000 us, and every pulse lasts at least 100 us (a
    # controller drops pulses that come too fast or too short; late ones it tolerates)
    assert all(t - t0 >= i * 1_000_000 for i, (t, _) in enumerate(pulses))
    assert all(r - t >= 100_000 for (t, _), r in zip(pulses, releases, strict=True))


def test_wiegand_schedule_does_not_drift_when_a_pulse_starts_late():
    """The frame's shape, on a clock the test drives (wall time on a loaded CI box is not the
    code's to keep): each bit is due at t0 + i x interval from the frame's start, so one late
    start (the process descheduled) does not push every later bit back."""
    now = [0]
    late_once = [True]

    def clock() -> int:
        now[0] += 1_000  # each read costs 1 us
        return now[0]

    class StampedLines(RecordedLines):
        def set_value(self, offset, value):
            if late_once[0] and value == Value.ACTIVE and len(self.writes) == 4:  # bit 2 starts 3 ms late
                late_once[0] = False
                now[0] += 3_000_000
            self.writes.append((now[0], offset, value))

    lines = StampedLines()
    out = WiegandOutput("/dev/gpiochip0", LineSpec(5), LineSpec(6), pulse_us=100, interval_us=1000,
                        request_lines=lines, clock_ns=clock)
    out.send(encode_26(18, 52651))
    starts = [t for t, _o, v in lines.writes if v == Value.ACTIVE]
    ends = [t for t, _o, v in lines.writes if v == Value.INACTIVE]
    assert len(starts) == 26
    assert all(e - s >= 100_000 for s, e in zip(starts, ends, strict=True))  # full width, the late one too
    # bits after the late one are back on the schedule: bit 10 near 10 ms, the last near 25 ms, not 28
    assert 10_000_000 <= starts[10] < 10_000_000 + 50_000
    assert 25_000_000 <= starts[-1] < 25_000_000 + 50_000


def test_a_missing_chip_is_one_clear_line():
    with pytest.raises(GpioError, match="GPIO /dev/gpiochip9: cannot request lines"):
        GpioRelay("/dev/gpiochip9", LineSpec(17))
