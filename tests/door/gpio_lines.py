"""A stand-in for gpiod.request_lines: gpiod's own LineSettings and Value objects, no chip."""

from __future__ import annotations

import time

from gpiod.line import Direction, Value


class RecordedLines:
    """gpiod.request_lines' stand-in: keeps the settings asked for and every value written."""

    def __init__(self, inputs: dict[int, Value] | None = None):
        self.config = {}
        self.writes: list[tuple[int, int, Value]] = []  # (perf_counter_ns, offset, value)
        self.inputs = inputs or {}
        self.released = False

    def __call__(self, chip, config, consumer):
        assert chip == "/dev/gpiochip0" and consumer == "menwei"
        self.config = config
        return self

    def set_value(self, offset, value):
        assert self.config[offset].direction == Direction.OUTPUT
        self.writes.append((time.perf_counter_ns(), offset, value))

    def get_value(self, offset):
        assert self.config[offset].direction == Direction.INPUT
        return self.inputs[offset]

    def release(self):
        self.released = True
