"""Door I/O on the box's own GPIO pins through libgpiod v2 (`gpiod`): a relay output, the door
inputs (door contact, exit button, fire-alarm contact) and a Wiegand-26 output on two lines.

Polarity lives in the line settings (`active_low`), so the rest of the code only ever says
"active": an exit button wired to ground with a pull-up is `active_low: true`, a fire panel's
normally-closed contact that opens on alarm is `active_low: false` with a pull-down, and so on.
`request_lines` is gpiod's own function; tests pass one that records what the lines would do.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from edge.door.wiegand import pulse_train
from menwei.errors import MenweiError


class GpioError(MenweiError):
    code = "gpio_error"


@dataclass(frozen=True)
class LineSpec:
    offset: int  # the line's number on the chip (e.g. BCM 17 on a Raspberry Pi's gpiochip0)
    active_low: bool = False
    pull: str = "none"  # "up" | "down" | "none"


def _gpiod():
    try:
        import gpiod
        from gpiod.line import Bias, Direction, Value
    except ImportError as exc:  # pragma: no cover - gpiod is a dependency
        raise GpioError(f"gpiod (libgpiod v2 bindings) is not installed: {exc}") from None
    return gpiod, Bias, Direction, Value


def _request(chip: str, lines: dict[str, tuple[LineSpec, bool]], request_lines: Callable | None):
    """One request for all `lines` ({name: (spec, is_output)}); GpioError names the chip."""
    gpiod, Bias, Direction, Value = _gpiod()
    bias = {"up": Bias.PULL_UP, "down": Bias.PULL_DOWN, "none": Bias.AS_IS}
    config = {spec.offset: gpiod.LineSettings(
        direction=Direction.OUTPUT if out else Direction.INPUT, active_low=spec.active_low,
        bias=bias[spec.pull], output_value=Value.INACTIVE) for spec, out in lines.values()}
    try:
        return (request_lines or gpiod.request_lines)(chip, config=config, consumer="menwei")
    except (OSError, ValueError) as exc:
        raise GpioError(f"GPIO {chip}: cannot request lines {sorted(config)}: {exc}") from None


class GpioRelay:
    """A relay (or a MOSFET driving a strike) on one output line; `set(True)` makes it active."""

    def __init__(self, chip: str, line: LineSpec, *, request_lines: Callable | None = None):
        self.line = line
        self._req = _request(chip, {"relay": (line, True)}, request_lines)
        self._value = _gpiod()[3]

    def set(self, on: bool) -> None:
        try:
            self._req.set_value(self.line.offset, self._value.ACTIVE if on else self._value.INACTIVE)
        except OSError as exc:
            raise GpioError(f"GPIO relay line {self.line.offset}: {exc}") from None

    def close(self) -> None:
        self._req.release()


@dataclass(frozen=True)
class InputStates:
    door_open: bool | None
    exit_pressed: bool | None
    fire_alarm: bool | None


class GpioInputs:
    """The door's contacts, read as active/inactive (None where a contact is not wired)."""

    def __init__(self, chip: str, *, door_contact: LineSpec | None = None, exit_button: LineSpec | None = None,
                 fire_alarm: LineSpec | None = None, request_lines: Callable | None = None):
        self.specs = {name: spec for name, spec in (("door_contact", door_contact), ("exit_button", exit_button),
                                                      ("fire_alarm", fire_alarm)) if spec is not None}
        self._req = _request(chip, {n: (s, False) for n, s in self.specs.items()}, request_lines) if self.specs else None
        self._active = _gpiod()[3].ACTIVE

    def read(self) -> InputStates:
        def state(name: str) -> bool | None:
            spec = self.specs.get(name)
            if spec is None or self._req is None:
                return None
            try:
                return self._req.get_value(spec.offset) == self._active
            except OSError as exc:
                raise GpioError(f"GPIO input {name} (line {spec.offset}): {exc}") from None

        return InputStates(state("door_contact"), state("exit_button"), state("fire_alarm"))

    def close(self) -> None:
        if self._req is not None:
            self._req.release()


class WiegandOutput:
    """Sends Wiegand frames on two output lines (D0, D1), active = pulled low by the driver stage.
    The pulses are timed with a busy wait (tens of microseconds: too short for sleep())."""

    def __init__(self, chip: str, d0: LineSpec, d1: LineSpec, *, pulse_us: int = 100, interval_us: int = 2000,
                 request_lines: Callable | None = None, clock_ns: Callable[[], int] = time.perf_counter_ns):
        self.d0, self.d1 = d0, d1
        self.pulse_us, self.interval_us = pulse_us, interval_us
        self._clock = clock_ns
        self._req = _request(chip, {"D0": (d0, True), "D1": (d1, True)}, request_lines)
        self._value = _gpiod()[3]

    def send(self, bits: str) -> None:
        t0 = self._clock()
        for p in pulse_train(bits, pulse_us=self.pulse_us, interval_us=self.interval_us):
            offset = self.d1.offset if p.line == "D1" else self.d0.offset
            self._until(t0 + p.start_us * 1000)  # on the frame's schedule, never early
            self._req.set_value(offset, self._value.ACTIVE)
            self._until(self._clock() + p.length_us * 1000)  # full width even when the start was late
            self._req.set_value(offset, self._value.INACTIVE)

    def _until(self, t_ns: int) -> None:
        while self._clock() < t_ns:
            pass

    def close(self) -> None:
        self._req.release()
