"""The alert rules, as pure functions of a resident's registry record and one movement."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from server.db.models import ResidentStatus


@dataclass(frozen=True)
class ResidentView:
    """What reconciliation needs of a resident (one query per batch fills these)."""

    id: str
    site_id: str
    household_id: int | None
    unit_id: int | None
    status: ResidentStatus
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    quarantine_from: datetime | None = None
    quarantine_until: datetime | None = None


def in_quarantine(r: ResidentView, at: datetime) -> bool:
    if r.status != ResidentStatus.QUARANTINE:
        return False
    started = r.quarantine_from is None or r.quarantine_from <= at
    not_over = r.quarantine_until is None or at < r.quarantine_until
    return started and not_over


def status_violation(r: ResidentView, direction: str, at: datetime) -> dict | None:
    """Why this resident's status forbids this movement, or None.

    Leaving is only forbidden in home quarantine; entering is forbidden to moved-out and banned
    people and outside a validity period (visitors, fixed-term tenants).
    """
    if direction == "out":
        if in_quarantine(r, at):
            return {"rule": "quarantine_leaving", "status": r.status.value,
                    "quarantine_until": r.quarantine_until.isoformat() if r.quarantine_until else None}
        return None
    if r.status in (ResidentStatus.MOVED_OUT, ResidentStatus.BANNED):
        return {"rule": f"{r.status.value}_entering", "status": r.status.value}
    if r.valid_from is not None and at < r.valid_from:
        return {"rule": "not_yet_valid", "status": r.status.value, "valid_from": r.valid_from.isoformat()}
    if r.valid_until is not None and at > r.valid_until:
        return {"rule": "expired", "status": r.status.value, "valid_until": r.valid_until.isoformat()}
    return None


def cross_compound_violation(r: ResidentView, seen_at_site: str, direction: str, at: datetime) -> dict | None:
    """What the registry forbids when a face is re-matched to resident ``r`` at ``seen_at_site``.

    In her own compound every rule applies. Elsewhere only home quarantine does: she is out of her
    home whatever the gate's direction, while a ban, a move-out or a validity window are her own
    compound's entry rules and say nothing about entering another one.
    """
    if seen_at_site == r.site_id:
        return status_violation(r, direction, at)
    if in_quarantine(r, at):
        return {"rule": "quarantine_seen_elsewhere", "status": r.status.value,
                "quarantine_until": r.quarantine_until.isoformat() if r.quarantine_until else None}
    return None
