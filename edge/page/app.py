"""The gate's local status page: create_app(view, page config) → a FastAPI app.

Routes: `/` (the page itself, static), `/healthz` (no login, no data: for a container healthcheck),
`/api/login`, `/api/logout`, `/api/me`, `/api/state` (health figures), `/events` (the live feed as
server-sent events) and `POST /api/open` (a guard's local open, with a reason).

Everything the app uses comes from its arguments (edge/page/view.py GateView); its own bits
(session key, login throttle, open streams) live on the app, nothing in module globals.
"""

from __future__ import annotations

import threading
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, StreamingResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from edge.agent.config import PageSection
from edge.page.auth import COOKIE, SessionSigner, same_origin
from edge.page.password import verify_password
from edge.page.sse import frame
from edge.page.view import GateView
from menwei.throttle import LoginThrottle, Rule

STATIC = Path(__file__).parent / "static"
OPEN_WAIT_S = 3.0  # how long a guard waits for the loop to confirm a local open
FEED_POLL_S = 1.0  # a stream checks this often whether its client left or its session ended
PING_S = 15.0  # a comment line now and then keeps proxies and phones from dropping an idle stream
RECENT = 20  # what a new stream shows at once: the last decisions before the page was opened
MAX_STREAMS = 8  # each open stream holds a worker thread while it waits for the feed
# a few guesses a minute from one client (or on the one account), refused before any scrypt work
THROTTLE = Rule(5, 60.0)

CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; "
       "frame-ancestors 'none'; base-uri 'none'; form-action 'self'")


class Login(BaseModel):
    user: str = Field(max_length=64)
    password: str = Field(max_length=256)


class OpenRequest(BaseModel):
    reason: str = Field("", max_length=200)


def create_app(view: GateView, page: PageSection, *, throttle: LoginThrottle | None = None,
               signer: SessionSigner | None = None) -> FastAPI:
    app = FastAPI(title="Menwei gate", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.stopping = threading.Event()  # set by edge/page/serve.py: open streams end
    signer = signer or SessionSigner(page.session_ttl_s)
    throttle = throttle or LoginThrottle(THROTTLE, THROTTLE)
    streams = {"open": 0}  # only touched on the event loop's thread

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError):
        msg = "; ".join(f"{'.'.join(str(p) for p in e['loc'][1:]) or 'body'}: {e['msg']}" for e in exc.errors())
        return JSONResponse({"detail": msg}, status_code=422)

    @app.middleware("http")
    async def _headers(request: Request, call_next):
        response = await call_next(request)
        response.headers["Content-Security-Policy"] = CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "same-origin"
        if request.url.path.startswith(("/api/", "/events")):
            response.headers["Cache-Control"] = "no-store"  # face crops and names stay out of caches
        return response

    def user(request: Request) -> str:
        name = signer.user_of(request.cookies.get(COOKIE))
        if name is None:
            raise HTTPException(401, "log in first")
        return name

    def guarded(request: Request) -> None:
        if not same_origin(request.headers):
            raise HTTPException(403, "refused: the request did not come from this page (Origin)")

    @app.get("/healthz")
    def healthz():
        ok = view.alive()
        return JSONResponse({"ok": ok}, status_code=200 if ok else 503)

    @app.get("/", include_in_schema=False)
    def index():
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})

    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.post("/api/login", dependencies=[Depends(guarded)])
    def login(body: Login, request: Request):
        address = request.client.host if request.client else None
        refused = throttle.begin(body.user, address)
        if refused is not None:
            raise HTTPException(429, f"too many failed logins: try again in {refused.retry_after} s",
                                headers={"Retry-After": str(refused.retry_after)})
        # the hash is checked for a wrong user too: the answer's timing says nothing about the name
        good = verify_password(body.password, page.password_hash)
        if not (good and body.user == page.user):
            raise HTTPException(401, "wrong user or password")
        throttle.succeeded(body.user, address)
        response = JSONResponse({"user": body.user})
        response.set_cookie(COOKIE, signer.issue(body.user), max_age=page.session_ttl_s, httponly=True,
                            samesite="strict", path="/")
        return response

    @app.post("/api/logout", dependencies=[Depends(guarded)])
    def logout():
        response = JSONResponse({"ok": True})
        response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
        return response

    @app.get("/api/me")
    def me(name: str = Depends(user)):
        return {"user": name}

    @app.get("/api/state")
    def state(_name: str = Depends(user)):
        s = view.state()
        return {"starting": True} if s is None else s

    @app.post("/api/open", dependencies=[Depends(guarded)])
    def local_open(body: OpenRequest, name: str = Depends(user)):
        reason = " ".join(body.reason.split())
        if not reason:
            raise HTTPException(422, "reason: a local open needs a reason (it is logged with your name)")
        done = view.request_local_open(name, reason)
        try:
            seq = done.result(timeout=OPEN_WAIT_S)
        except FutureTimeout:
            # still queued: the loop may yet open the door, so the guard must not be told it stays shut
            raise HTTPException(504, f"the gate did not confirm within {OPEN_WAIT_S:.0f} s; "
                                     "watch the live feed before trying again") from None
        if seq is None:
            raise HTTPException(503, "outbox full: the door stays shut")
        return {"seq": seq}

    @app.get("/events")
    async def events(request: Request, name: str = Depends(user)):
        if streams["open"] >= MAX_STREAMS:
            raise HTTPException(503, f"too many open pages ({MAX_STREAMS}): close one")
        token = request.cookies.get(COOKIE)
        resume = request.headers.get("last-event-id", "")
        start = int(resume) if resume.isdigit() else max(0, view.feed.last_id - RECENT)

        async def stream():
            last, idle = start, 0.0
            streams["open"] += 1  # counted here, where `finally` is sure to run
            try:
                yield "retry: 2000\n\n"
                # the stream ends when the gate stops, the client leaves or the session runs out
                while not app.state.stopping.is_set() and signer.user_of(token) == name:
                    if await request.is_disconnected():
                        return
                    items = await run_in_threadpool(view.feed.after, last, FEED_POLL_S)
                    if not items:
                        idle += FEED_POLL_S
                        if idle >= PING_S:
                            idle = 0.0
                            yield ": ping\n\n"
                        continue
                    idle = 0.0
                    for item in items:
                        last = item.id
                        yield frame(item)
            finally:
                streams["open"] -= 1

        return StreamingResponse(stream(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})

    return app
