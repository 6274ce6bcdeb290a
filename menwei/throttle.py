"""Login throttling: failed attempts per account and per client address, in process.

Used by the server's API and by the gate's own page (edge/page/), hence here. A sliding window per key: an attempt is allowed while fewer than `limit` failures fall inside the
last `window_s` seconds; otherwise it is refused with the seconds until the oldest failure leaves
the window (the HTTP Retry-After). A refused attempt costs no bcrypt work and no database read,
so a flood against one account spends almost nothing and other users' logins keep their speed.

The attempt is counted when it starts (and uncounted on success), so concurrent guesses cannot all
pass the check before the first failure is recorded. Keys are bounded (least recently used first
out), so a flood of made-up names cannot grow memory without limit. One process keeps its own
counts: with several API processes each throttles on its own (documented in docs/API.md).
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass

from menwei.errors import MenweiError


class TooManyAttempts(MenweiError):
    code = "too_many_attempts"

    def __init__(self, message: str, retry_after: int):
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True)
class Rule:
    limit: int  # failures allowed inside the window
    window_s: float


@dataclass(frozen=True)
class Refusal:
    """Why an attempt was refused: `scope` is "account" or "address"; `first` is True for the first
    refusal of this lock-out (the one worth an audit row; the rest of a flood is not written)."""

    scope: str
    retry_after: int
    first: bool


class _Window:
    """Failure times of one key, oldest first, and until when its lock-out was already reported."""

    __slots__ = ("times", "reported_until")

    def __init__(self) -> None:
        self.times: deque[float] = deque()
        self.reported_until = -math.inf


class _Keys:
    def __init__(self, rule: Rule, max_keys: int):
        self.rule = rule
        self.max_keys = max_keys
        self._windows: OrderedDict[str, _Window] = OrderedDict()

    def _window(self, key: str, now: float) -> _Window:
        w = self._windows.get(key)
        if w is None:
            w = self._windows[key] = _Window()
            if len(self._windows) > self.max_keys:
                self._windows.popitem(last=False)
        else:
            self._windows.move_to_end(key)
        while w.times and w.times[0] <= now - self.rule.window_s:
            w.times.popleft()
        return w

    def refusal(self, key: str, now: float) -> tuple[int, bool] | None:
        w = self._window(key, now)
        if len(w.times) < self.rule.limit:
            return None
        wait = w.times[0] + self.rule.window_s - now
        first = now >= w.reported_until
        if first:
            w.reported_until = now + wait
        return max(1, math.ceil(wait)), first

    def add(self, key: str, now: float) -> None:
        self._window(key, now).times.append(now)

    def remove_last(self, key: str) -> None:
        w = self._windows.get(key)
        if w is not None and w.times:
            w.times.pop()

    def clear(self, key: str) -> None:
        self._windows.pop(key, None)


class LoginThrottle:
    def __init__(self, per_account: Rule = Rule(5, 300.0), per_address: Rule = Rule(20, 300.0), *,
                 clock: Callable[[], float] = time.monotonic, max_keys: int = 100_000):
        self._accounts = _Keys(per_account, max_keys)
        self._addresses = _Keys(per_address, max_keys)
        self._clock = clock
        self._lock = threading.Lock()  # logins run in the thread pool

    def begin(self, account: str, address: str | None) -> Refusal | None:
        """Count an attempt, or refuse it (the address is checked first: a guessing client learns
        nothing about the account)."""
        addr = address or "?"
        with self._lock:
            now = self._clock()
            for scope, keys, key in (("address", self._addresses, addr), ("account", self._accounts, account)):
                refused = keys.refusal(key, now)
                if refused is not None:
                    return Refusal(scope, *refused)
            self._accounts.add(account, now)
            self._addresses.add(addr, now)
        return None

    def succeeded(self, account: str, address: str | None) -> None:
        """A correct password: the account starts afresh; the address gets back this attempt only
        (one good login must not wipe a guessing client's other failures)."""
        with self._lock:
            self._accounts.clear(account)
            self._addresses.remove_last(address or "?")
