"""Who may use the page: a signed session cookie, and a same-origin check for what changes things.

The session is `user.expiry.signature` (HMAC-SHA256 with a key made at start-up), sent as an
HttpOnly, SameSite=Strict cookie: JavaScript cannot read it and no other site's page can make
the browser send it. A restart of the agent ends every session (the key lives in memory only),
which costs a guard one login and saves keeping a secret on disk.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from urllib.parse import urlsplit

COOKIE = "menwei_page"


class SessionSigner:
    def __init__(self, ttl_s: int, *, clock: Callable[[], float] = time.time, key: bytes | None = None):
        self.ttl_s = ttl_s
        self._clock = clock
        self._key = key or secrets.token_bytes(32)

    def issue(self, user: str) -> str:
        body = f"{user}.{int(self._clock()) + self.ttl_s}"
        return f"{body}.{self._sign(body)}"

    def user_of(self, token: str | None) -> str | None:
        """The session's user, or None (no cookie, forged, or expired)."""
        if not token or token.count(".") < 2:
            return None
        body, _, sig = token.rpartition(".")
        if not hmac.compare_digest(sig, self._sign(body)):
            return None
        user, _, expiry = body.rpartition(".")
        if not expiry.isdigit() or int(expiry) < self._clock():
            return None
        return user

    def _sign(self, body: str) -> str:
        return hmac.new(self._key, body.encode(), hashlib.sha256).hexdigest()


def same_origin(headers) -> bool:
    """A state-changing request must come from this page: its Origin (or, without one, its
    Referer) names the host the request was sent to. A missing pair is refused too."""
    host = headers.get("host")
    source = headers.get("origin") or headers.get("referer")
    if not host or not source or source == "null":
        return False
    return urlsplit(source).netloc.lower() == host.lower()
