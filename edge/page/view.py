"""What the page reads from the running gate, and nothing more: its live feed, its last state,
whether its loop is alive, and the one thing it may ask for (a local open).

The app (edge/page/app.py) sees only this, so its tests can hand it a small stand-in and the page
never reaches into the agent's threads: the state is the one the loop itself last computed.
"""

from __future__ import annotations

import json
from concurrent.futures import Future
from datetime import UTC, datetime
from typing import Protocol

from edge.agent.feed import LiveFeed

STALE_S = 10.0  # the loop writes its state every 2 s; five missed writes and it counts as stuck


class GateView(Protocol):
    feed: LiveFeed

    def state(self) -> dict | None: ...  # None while the gate starts

    def alive(self) -> bool: ...

    def request_local_open(self, operator: str, reason: str) -> Future: ...


class AgentView:
    """A GateAgent (edge/agent/agent.py) as the page sees it."""

    def __init__(self, agent, *, stale_s: float = STALE_S):
        self._agent = agent
        self.feed = agent.feed
        self._stale_s = stale_s

    def state(self) -> dict | None:
        state = self._agent.last_state
        # a JSON copy: a snapshot of values the loop goes on changing, and nothing unserialisable
        return None if state is None else json.loads(json.dumps(state, default=str))

    def alive(self) -> bool:
        state = self._agent.last_state
        if state is None:
            return False
        age = (datetime.now(UTC) - datetime.fromisoformat(state["updated_at"])).total_seconds()
        return age < self._stale_s

    def request_local_open(self, operator: str, reason: str) -> Future:
        return self._agent.request_local_open(operator, reason)
