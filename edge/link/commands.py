"""Whether a remote command may still act: a queued `open` must never fire hours later.

Three clocks agree here: the broker drops a queued command whose MQTT 5 message expiry ran out;
the server writes `expires_at` into the command (for MQTT 3.1.1, which has no expiry); and the
gate refuses anything issued longer ago than its own `command_ttl_s`, whichever is strictest.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from menwei.wire import Command

# clocks of gate and server differ a little even with NTP; a command "from the future" by more
# than this is refused too (a replay with a forged time, or a gate clock that is badly off)
MAX_CLOCK_SKEW = timedelta(seconds=5)


def command_refusal(cmd: Command, ttl_s: float, now: datetime | None = None) -> str | None:
    """Why `cmd` must not act now, or None."""
    now = now or datetime.now(UTC)
    issued = cmd.issued_at if cmd.issued_at.tzinfo else cmd.issued_at.replace(tzinfo=UTC)
    age = (now - issued).total_seconds()
    if age > ttl_s:
        return f"expired: issued {age:.0f} s ago, the gate accepts commands for {ttl_s:.0f} s"
    if now - issued < -MAX_CLOCK_SKEW:
        return f"issued {-age:.0f} s in the future (clock skew or a forged time)"
    expires = cmd.expires_at
    if expires is not None:
        expires = expires if expires.tzinfo else expires.replace(tzinfo=UTC)
        if now > expires:
            return f"expired at {expires.isoformat()} (server's expiry)"
    return None
