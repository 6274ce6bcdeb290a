"""Thermal errors with stable codes (printed by the CLI as one line, keyed on by tools)."""

from menwei.errors import MenweiError


class ThermalError(MenweiError):
    code = "thermal_error"


class FrameFormatError(ThermalError):
    """Raw bytes that do not form a frame of the announced format (truncated, odd size, garbage)."""

    code = "thermal_bad_frame"


class ThermalConfigError(ThermalError):
    code = "thermal_bad_config"


class SensorUnavailable(ThermalError):
    """The device is unplugged, not found, or stopped answering."""

    code = "thermal_sensor_unavailable"


class SensorTimeout(SensorUnavailable):
    code = "thermal_sensor_timeout"
