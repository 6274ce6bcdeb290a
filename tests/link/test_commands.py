"""A remote command acts only while fresh: the gate's TTL, the server's expires_at, clock skew."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from edge.link.commands import command_refusal
from menwei.wire import Command

NOW = datetime(2026, 12, 6, 10, 0, tzinfo=UTC)


def cmd(age_s: float, **kw) -> Command:
    return Command(command_id=uuid.uuid4(), kind="open", operator="guard1", reason="courier",
                   issued_at=NOW - timedelta(seconds=age_s), **kw)


def test_fresh_command_acts_and_stale_one_is_refused():
    assert command_refusal(cmd(5), ttl_s=30, now=NOW) is None
    assert command_refusal(cmd(30), ttl_s=30, now=NOW) is None  # the boundary is still fresh
    why = command_refusal(cmd(3 * 3600), ttl_s=30, now=NOW)  # queued while the gate was offline
    assert why is not None and why.startswith("expired")


def test_command_from_the_future_is_refused_beyond_clock_skew():
    assert command_refusal(cmd(-3), ttl_s=30, now=NOW) is None
    assert "future" in command_refusal(cmd(-60), ttl_s=30, now=NOW)


def test_server_expiry_wins_when_stricter():
    c = cmd(5)
    if "expires_at" not in Command.model_fields:  # the field arrives with the server's half
        return
    c = cmd(5, expires_at=NOW - timedelta(seconds=1))
    assert "server" in command_refusal(c, ttl_s=30, now=NOW)
