"""`menwei edge status`: the gate's figures from its data dir, whether or not the agent runs."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

from edge.agent.agent import STATE_FILE
from edge.agent.config import GateConfig
from edge.link.gallery_sync import cached_version
from edge.link.outbox import read_stats

FRESH_S = 10.0  # the agent rewrites its state every 2 s: older than this, it is not running


def _alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def gate_status(cfg: GateConfig) -> dict:
    data_dir = Path(cfg.data_dir)
    ob = read_stats(data_dir / "outbox.sqlite")
    try:
        state = json.loads((data_dir / STATE_FILE).read_text())
    except (OSError, ValueError):
        state = {}
    try:
        age = (datetime.now(UTC) - datetime.fromisoformat(state["updated_at"])).total_seconds()
    except (KeyError, TypeError, ValueError):
        age = None
    running = _alive(state.get("pid")) and age is not None and age < FRESH_S
    return {
        "site": cfg.site, "gate": cfg.gate,
        "last_seq": ob.last_seq if ob else 0,
        "outbox": {"depth": ob.depth if ob else 0, "oldest_seq": ob.oldest_seq if ob else None},
        "acked_seq": ob.acked_seq if ob else 0,
        "gallery_version": cached_version(data_dir / "gallery") if cached_version(data_dir / "gallery") is not None
        else state.get("gallery_version"),
        "config_version": state.get("config_version"),
        "online": bool(running and state.get("online")),
        "agent_running": running,
        "state_age_s": None if age is None else round(age, 1),
        "camera": state.get("camera"), "thermal": state.get("thermal"), "door": state.get("door"),
        "counters": state.get("counters"),
    }
