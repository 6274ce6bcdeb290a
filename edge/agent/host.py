"""The box itself, for telemetry: SoC/CPU temperatures and the agent's resident memory.

A gate box in a sealed housing on a sunny wall throttles or dies of heat long before anything
else fails, so its temperatures go out with every telemetry message. Read from Linux's sysfs
thermal zones (`/sys/class/thermal/thermal_zone*/{type,temp}`, millidegrees Celsius); a box or
container without them reports an empty dict, never an error.
"""

from __future__ import annotations

from pathlib import Path

THERMAL_ROOT = Path("/sys/class/thermal")


def box_temperatures(root: Path = THERMAL_ROOT) -> dict[str, float]:
    """{zone type (or zone name when types repeat): °C}; unreadable zones are left out."""
    temps: dict[str, float] = {}
    for zone in sorted(root.glob("thermal_zone*")):
        try:
            kind = (zone / "type").read_text().strip() or zone.name
            milli = int((zone / "temp").read_text().strip())
        except (OSError, ValueError):  # some zones answer EIO while their sensor sleeps
            continue
        temps[kind if kind not in temps else f"{kind}.{zone.name}"] = round(milli / 1000.0, 1)
    return temps


def rss_mb(status: Path = Path("/proc/self/status")) -> float | None:
    """This process's resident set size, from the kernel's own accounting."""
    try:
        for line in status.read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024.0, 1)  # the kernel reports kB
    except (OSError, ValueError, IndexError):
        pass
    return None
