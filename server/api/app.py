"""The FastAPI application factory.

Everything the app uses is passed in (settings, database sessions, MQTT publisher, face engine),
so tests and `menwei server run` build the same app on different infrastructure and nothing lives
in module globals.
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from datetime import timedelta

from fastapi import Depends, FastAPI
from sqlalchemy.orm import Session, sessionmaker

from edge.modelpack.manifest import load_manifest
from menwei import __version__
from menwei.passes import signing_key_from_secret
from menwei.throttle import LoginThrottle, Rule
from server.api.broker import NullPublisher, Publisher
from server.api.deps import AppState
from server.api.errors import error_responses, install_handlers
from server.api.limits import BodyLimitMiddleware
from server.api.nul import refuse_nul
from server.api.security import InvalidToken, Pseudonyms, TokenIssuer
from server.api.settings import ApiSettings
from server.gallery.links import LinkSigner, gate_generations
from server.gallery.publish import GalleryService, Republisher
from server.registry.faces import EngineHolder


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

    gallery = GalleryService(session_factory, publisher, signer, settings.pack, dim_of,
                             masked_templates=settings.gallery_masked_templates)
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
        pass_key=signing_key_from_secret(secret),
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
        dependencies=[Depends(refuse_nul)],
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

    install_handlers(app)

    from server.api.routers import (
        alerts,
        areas,
        audit_log,
        auth,
        buildings,
        control_levels,
        entries,
        gallery_files,
        gate_config,
        gates,
        grids,
        households,
        imports,
        live,
        passes,
        presence,
        residents,
        reviews,
        sites,
        stats,
        units,
    )

    registry = (areas, sites, control_levels, buildings, units, households, grids)
    for module in (auth, *registry, residents, passes, gates, gate_config, entries, reviews, presence, live, alerts, stats, audit_log,
                   gallery_files, imports):
        app.include_router(module.router, prefix="/api/v1", responses=error_responses())

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict:
        return {"ok": True, "version": __version__}

    from server.web import mount_ui

    mount_ui(app)

    return app
