"""A stand-in for the running gate (edge/page/view.py GateView) and a page config around a known password."""

from __future__ import annotations

from concurrent.futures import Future

from edge.agent.config import PageSection
from edge.agent.feed import LiveFeed
from edge.page.password import hash_password

PASSWORD = "gate-page-secret"
ORIGIN = "http://testserver"  # TestClient's own host: what a browser on the page sends as Origin


def page_section(**extra) -> PageSection:
    return PageSection(password_hash=hash_password(PASSWORD), **{"user": "guard", **extra})


class FakeView:
    def __init__(self, state: dict | None = None, *, alive: bool = True, seq: int | None = 7, answer: bool = True):
        self.feed = LiveFeed()
        self._state = state
        self._alive = alive
        self.seq, self.answer = seq, answer
        self.opens: list[tuple[str, str]] = []

    def state(self) -> dict | None:
        return self._state

    def alive(self) -> bool:
        return self._alive

    def request_local_open(self, operator: str, reason: str) -> Future:
        self.opens.append((operator, reason))
        done: Future = Future()
        if self.answer:
            done.set_result(self.seq)
        return done
