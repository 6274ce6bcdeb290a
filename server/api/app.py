"""The FastAPI application factory.

Everything the app uses is passed in (settings, database sessions, MQTT publisher, face engine),
so tests and `menwei server run` build the same app on different infrastructure and nothing lives
in module globals.
"""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager
from datetime import timedelta

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from edge.modelpack.manifest import load_manifest
from menwei import __version__
from menwei.errors import MenweiError
from server.api.broker import NullPublisher, Publisher
from server.api.deps import AppState
from server.api.errors import ERROR_RESPONSES
from server.api.limits import BodyLimitMiddleware
from server.api.security import InvalidToken, Pseudonyms, TokenIssuer
from server.api.settings import ApiSettings
from server.api.throttle import LoginThrottle, Rule
from server.gallery.links import LinkSigner, gate_generations
from server.gallery.publish import GalleryService, Republisher
from server.registry.faces import EngineHolder

log = logging.getLogger(__name__)

# MenweiError code → HTTP status; anything else a MenweiError says is a 400.
STATUS_OF_CODE = {
    "unauthorized": 401,
    "forbidden": 403,
    "not_found": 404,
    "conflict": 409,
    "unknown_unit": 422,
    "invalid_input": 422,
    "weak_password": 422,
    "bad_csv": 422,
    "bad_cursor": 422,
    "too_large": 413,
    "too_many_attempts": 429,
    "broker_unavailable": 503,
}


def create_app(settings, session_factory: sessionmaker[Session], *,
               publisher: Publisher | None = None, engine: EngineHolder | None = None) -> FastAPI:
    """settings: ApiSettings, or the shared server Settings (server/config.py) to derive them from."""
    if not isinstance(settings, ApiSettings):
        settings = ApiSettings.from_server(settings)
    secret = settings.resolve_secret()
    publisher = publisher or NullPublisher()
    engine = engine or EngineHolder(settings.pack)
    signer = LinkSigner(secret, settings.public_url, gate_generations(session_factory))

    def dim_of() -> int:
        return engine.get().dim if engine.loaded else load_manifest(settings.pack).embedding_dim

    gallery = GalleryService(session_factory, publisher, signer, settings.pack, dim_of)
    state = AppState(
        settings=settings,
        sessions=session_factory,
        tokens=TokenIssuer(secret, timedelta(minutes=settings.token_ttl_minutes)),
        signer=signer,
        publisher=publisher,
        engine=engine,
        gallery=gallery,
        republisher=Republisher(gallery, settings.gallery_debounce_s),
        pseudonyms=Pseudonyms(secret),
        throttle=LoginThrottle(Rule(settings.login_failures_per_account, settings.login_window_s),
                               Rule(settings.login_failures_per_address, settings.login_window_s)),
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        yield
        state.republisher.flush(timeout=10)
        state.republisher.close()

    app = FastAPI(
        title="Menwei server API",
        version=__version__,
        description="Registry, entry log, alerts, gates and galleries of residential-compound entrances. "
        "Log in at /api/v1/auth/token (OAuth2 password form); every read of personal data is audited.",
        lifespan=lifespan,
    )
    app.state.menwei = state

    def token_ok(token: str) -> bool:
        try:
            state.tokens.verify(token)
        except InvalidToken:
            return False
        return True

    # outermost of the app's own middleware: bodies are bounded before routing, parsing and auth
    app.add_middleware(BodyLimitMiddleware, settings=settings, token_ok=token_ok)

    @app.exception_handler(MenweiError)
    async def _menwei_error(_req: Request, exc: MenweiError):
        status = STATUS_OF_CODE.get(exc.code, 400)
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        retry_after = getattr(exc, "retry_after", None)
        if retry_after is not None:
            headers = {"Retry-After": str(int(retry_after))}
        return JSONResponse({"detail": exc.message, "code": exc.code}, status_code=status, headers=headers)

    @app.exception_handler(IntegrityError)
    async def _integrity(_req: Request, exc: IntegrityError):
        # the handlers check references and duplicates first; this answers the race between two writers
        log.info("integrity error answered as 409: %s", type(exc.orig).__name__)
        return JSONResponse({"detail": "the change conflicts with existing records", "code": "conflict"},
                            status_code=409)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_req: Request, exc: RequestValidationError):
        # one readable line plus the structured list; never echo input values (they may be personal)
        errs = [{"loc": list(e.get("loc", ())), "msg": e.get("msg", "")} for e in exc.errors()]
        first = errs[0] if errs else {"loc": [], "msg": "invalid request"}
        line = f"{'.'.join(str(x) for x in first['loc'])}: {first['msg']}"
        return JSONResponse({"detail": line, "code": "invalid_input", "errors": errs}, status_code=422)

    from server.api.routers import (
        alerts,
        areas,
        audit_log,
        auth,
        buildings,
        entries,
        gallery_files,
        gates,
        grids,
        households,
        imports,
        residents,
        sites,
        stats,
        units,
    )

    registry = (areas, sites, buildings, units, households, grids)
    for module in (auth, *registry, residents, gates, entries, alerts, stats, audit_log, gallery_files, imports):
        app.include_router(module.router, prefix="/api/v1", responses=ERROR_RESPONSES)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict:
        return {"ok": True, "version": __version__}

    return app
