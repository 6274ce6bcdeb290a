"""Request-body limits enforced before authentication, parsing or spooling (issue 8 item 5).

FastAPI reads and parses a request body (a JSON document, or a multipart form spooled to disk)
before it resolves the dependencies that authenticate the caller, so without this an anonymous
client could make the server parse 200 MB of JSON or spool 300 MB of upload just to get its 401.
This ASGI middleware sits in front of the app and, per route:

* refuses a declared ``Content-Length`` above the route's limit at once (nothing is read);
* counts the bytes of a body that declares no length (chunked) while it streams in, and answers
  413 as soon as the count passes the limit;
* on the upload routes (the only ones allowed more than the small JSON limit) refuses a request
  without a validly signed, unexpired bearer token before reading its body. The full check (user
  still active, password unchanged, role) still runs in the handler's dependencies; this one is
  the cheap HMAC part, so an anonymous upload costs no disk.

Answers use the API's shared error body ``{"detail", "code"}``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from server.api.settings import ApiSettings


@dataclass(frozen=True)
class RouteLimit:
    method: str
    path: re.Pattern[str]
    max_bytes: int
    what: str  # named in the 413 message


def route_limits(settings: ApiSettings) -> list[RouteLimit]:
    """The routes allowed bodies larger than `max_json_bytes` (every other route gets that)."""
    return [
        RouteLimit("POST", re.compile(r"^/api/v1/residents/[^/]+/photos/?$"), settings.max_photo_upload_bytes,
                   "a photo upload"),
        RouteLimit("POST", re.compile(r"^/api/v1/sites/[^/]+/imports/?$"), settings.max_import_bytes,
                   "an import (CSV and photos zip)"),
    ]


class BodyTooLarge(Exception):
    """Raised from `receive` once a streamed body passes its limit (the middleware answers 413)."""


async def _answer(send: Send, status: int, detail: str, code: str, extra: list[tuple[bytes, bytes]] = ()) -> None:
    body = json.dumps({"detail": detail, "code": code}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close"), *extra]})
    await send({"type": "http.response.body", "body": body})


def _header(scope: Scope, name: bytes) -> bytes | None:
    for k, v in scope.get("headers", ()):
        if k.lower() == name:
            return v
    return None


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, settings: ApiSettings, token_ok: Callable[[str], bool]):
        self.app = app
        self.default = settings.max_json_bytes
        self.routes = route_limits(settings)
        self.token_ok = token_ok

    def _limit(self, method: str, path: str) -> tuple[int, str, bool]:
        for r in self.routes:
            if r.method == method and r.path.match(path):
                return r.max_bytes, r.what, True
        return self.default, "this route", False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit, what, upload = self._limit(scope["method"], scope["path"])
        too_large = f"request body larger than {limit} bytes, the limit for {what}"
        declared = _header(scope, b"content-length")
        if declared is not None:
            try:
                length = int(declared)
            except ValueError:
                await _answer(send, 400, "invalid Content-Length header", "invalid_input")
                return
            if length > limit:
                await _answer(send, 413, too_large, "too_large")
                return
        if upload and not self._authorised(scope):
            await _answer(send, 401, "not authenticated: send 'Authorization: Bearer <token>' from "
                          "/api/v1/auth/token", "unauthorized", [(b"www-authenticate", b"Bearer")])
            return

        received = 0
        exceeded = False
        started = False

        async def counting_receive() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    exceeded = True
                    raise BodyTooLarge(too_large)
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if exceeded:
                return  # whatever the app made of the aborted read (FastAPI: a 400) is replaced below
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except Exception:
            if not exceeded:
                raise
        if exceeded and not started:
            await _answer(send, 413, too_large, "too_large")

    def _authorised(self, scope: Scope) -> bool:
        value = (_header(scope, b"authorization") or b"").decode("latin-1")
        scheme, _, token = value.partition(" ")
        return scheme.lower() == "bearer" and bool(token.strip()) and self.token_ok(token.strip())
