"""Entries that are not a person at the camera: door events (edge/door/rules.py) and opens by a
guard at the gate's own page. Neither is an unknown person; alarms and local opens are alerts
for the office."""

from __future__ import annotations

from menwei.wire import DOOR_ALARM_REASONS, DOOR_EVENT_REASONS, EntryEvent, Reason
from server.db.models import AlertKind

LOCAL_OPERATOR_PREFIX = "local:"  # the status page's override operator, "local:<user>"


def is_door_event(e: EntryEvent) -> bool:
    return e.person.resident_id is None and any(r in DOOR_EVENT_REASONS for r in e.reasons)


def door_alarm_alerts(e: EntryEvent, base: dict) -> list[tuple[AlertKind, str | None, dict]]:
    return [(AlertKind.DOOR_ALARM, None, {**base, "alarm": r}) for r in e.reasons if r in DOOR_ALARM_REASONS]


def is_local_open(e: EntryEvent) -> bool:
    """Both marks of the gate's own page: the reason and the operator it writes. An override that
    has only one of them is treated as a remote one (and checked against the server's commands)."""
    return (Reason.LOCAL_OPEN in e.reasons and e.override is not None
            and e.override.operator.startswith(LOCAL_OPERATOR_PREFIX))


def local_open_alert(e: EntryEvent, base: dict) -> tuple[AlertKind, str | None, dict]:
    return (AlertKind.LOCAL_OPEN, None, {**base, "operator": e.override.operator, "reason": e.override.reason})
