"""Weekly schedules: {"mon": [["08:00", "18:00"]], ...} in the compound's time zone.

An interval is [start, end) in local wall time; end < start runs across midnight into the next day
(["22:00", "06:00"] on "fri" covers Friday 22:00 to Saturday 06:00); "24:00" ends at midnight.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$|^24:00$")

Schedule = dict[str, list[tuple[int, int]]]  # day → [(start_minute, end_minute)]


def _minutes(s: Any, where: str) -> int:
    if not isinstance(s, str) or not _HHMM.match(s):
        raise ValueError(f"schedule.{where}: expected HH:MM, got {s!r}")
    h, m = s.split(":")
    return int(h) * 60 + int(m)


def parse_schedule(raw: Any) -> Schedule | None:
    """Validate a schedule; None = no schedule (always allowed). Raises ValueError naming the field."""
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise ValueError("schedule: expected an object of day → [[HH:MM, HH:MM], ...]")
    out: Schedule = {}
    for day, intervals in raw.items():
        if day not in DAYS:
            raise ValueError(f"schedule.{day}: unknown day (use {', '.join(DAYS)})")
        if not isinstance(intervals, list):
            raise ValueError(f"schedule.{day}: expected a list of [HH:MM, HH:MM]")
        parsed = []
        for i, iv in enumerate(intervals):
            if not isinstance(iv, (list, tuple)) or len(iv) != 2:
                raise ValueError(f"schedule.{day}.{i}: expected [HH:MM, HH:MM]")
            start, end = _minutes(iv[0], f"{day}.{i}.0"), _minutes(iv[1], f"{day}.{i}.1")
            if start == end:
                raise ValueError(f"schedule.{day}.{i}: empty interval")
            parsed.append((start, end))
        out[day] = parsed
    return out


def in_schedule(schedule: Schedule, at: datetime, tz: ZoneInfo) -> bool:
    local = at.astimezone(tz)
    minute = local.hour * 60 + local.minute + (local.second + local.microsecond / 1e6) / 60
    today, yesterday = DAYS[local.weekday()], DAYS[(local.weekday() - 1) % 7]
    for start, end in schedule.get(today, []):
        if start < end and start <= minute < end:
            return True
        if end < start and minute >= start:  # today's overnight interval, before midnight
            return True
    # yesterday's overnight interval, after midnight
    return any(end < start and minute < end for start, end in schedule.get(yesterday, []))


