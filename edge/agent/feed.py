"""The gate's live feed: what its own status page shows as it happens (decisions, door events).

The agent's loop publishes; any number of readers (the page's server-sent-event streams, in
other threads) wait for what came after the last item they saw. Bounded: a gate runs for months
and a reader that falls behind simply misses the oldest items, it never slows the loop.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any

FEED_KEPT = 200


@dataclass(frozen=True)
class FeedItem:
    id: int  # increasing, from 1
    kind: str  # "decision" | "door" | "pass" | "override"
    data: dict[str, Any] = field(default_factory=dict)  # JSON-ready; may hold a base64 face crop


class LiveFeed:
    def __init__(self, kept: int = FEED_KEPT):
        self._items: deque[FeedItem] = deque(maxlen=kept)
        self._cond = threading.Condition()
        self._last = 0

    def publish(self, kind: str, data: dict[str, Any]) -> FeedItem:
        with self._cond:
            self._last += 1
            item = FeedItem(self._last, kind, data)
            self._items.append(item)
            self._cond.notify_all()
            return item

    def after(self, last_id: int, timeout: float | None = None) -> list[FeedItem]:
        """Items newer than `last_id`, waiting up to `timeout` s for one when there are none."""
        with self._cond:
            self._cond.wait_for(lambda: self._last > last_id, timeout=timeout)
            return [i for i in self._items if i.id > last_id]

    @property
    def last_id(self) -> int:
        with self._cond:
            return self._last
