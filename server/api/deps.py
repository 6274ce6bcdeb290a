"""Request-scoped dependencies: database session, the authenticated caller, permission checks."""

from __future__ import annotations

import hmac
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from menwei.errors import MenweiError
from menwei.throttle import LoginThrottle
from server.api.broker import Publisher
from server.api.roles import Perm, Principal, Role
from server.api.security import InvalidToken, Pseudonyms, TokenIssuer
from server.api.settings import ApiSettings
from server.audit import Actor
from server.db.models import User, UserSite
from server.gallery.links import LinkSigner
from server.gallery.publish import GalleryService, Republisher
from server.registry.faces import EngineHolder
from server.registry.service import NotFound

TOKEN_URL = "/api/v1/auth/token"
oauth2 = OAuth2PasswordBearer(tokenUrl=TOKEN_URL, auto_error=False)


class Unauthorized(MenweiError):
    code = "unauthorized"


class Forbidden(MenweiError):
    code = "forbidden"


@dataclass
class AppState:
    settings: ApiSettings
    sessions: sessionmaker[Session]
    tokens: TokenIssuer
    signer: LinkSigner
    publisher: Publisher
    engine: EngineHolder
    gallery: GalleryService
    republisher: Republisher
    pseudonyms: Pseudonyms
    throttle: LoginThrottle
    pass_key: bytes  # Ed25519 private key of visitor passes (menwei/passes.py)
    # set when the server is asked to stop: live streams end, so a guard's open screen does not
    # hold the graceful shutdown
    closing: threading.Event = field(default_factory=threading.Event)


def app_state(request: Request) -> AppState:
    return request.app.state.menwei


def db(request: Request) -> Iterator[Session]:
    with app_state(request).sessions() as s:
        yield s


def current_principal(request: Request, token: Annotated[str | None, Depends(oauth2)],
                      s: Annotated[Session, Depends(db)]) -> Principal:
    if not token:
        raise Unauthorized("not authenticated: send 'Authorization: Bearer <token>' from /api/v1/auth/token")
    return principal_of(s, app_state(request), token)


def principal_of(s: Session, state: AppState, token: str) -> Principal:
    """Who the token is, as the database says now (a long-lived stream asks again on every poll)."""
    try:
        claims = state.tokens.verify(token)
    except InvalidToken as exc:
        raise Unauthorized(exc.message) from None
    # the user is re-read on every request: a deactivated account or changed role takes effect now,
    # not when its token expires
    user = s.get(User, claims.user_id)
    if user is None or not user.active or user.username != claims.username:
        raise Unauthorized("account is disabled or no longer exists")
    if not hmac.compare_digest(claims.stamp, state.tokens.stamp(user.password_hash)):
        # issued before the password was changed: a stolen token must not outlive the reset
        raise Unauthorized("token issued before the password was changed; log in again")
    role = Role(user.role.value if hasattr(user.role, "value") else user.role)
    sites = None if role == Role.ADMIN else frozenset(
        s.scalars(select(UserSite.site_id).where(UserSite.user_id == user.id)))
    s.rollback()  # end the read transaction; handlers start their own
    return Principal(user.id, user.username, role, sites)


@dataclass
class Ctx:
    """What a handler needs: who asks, a session, the app's services."""

    who: Principal
    s: Session
    app: AppState
    ip: str | None

    @property
    def actor(self) -> Actor:
        return Actor(self.who.username, self.who.user_id, self.ip)

    def require_site(self, site_id: str | None) -> str:
        """404 for a compound outside the caller's scope (as if it did not exist)."""
        if site_id is None or not self.who.sees(site_id):
            raise NotFound(f"site {site_id} not found")
        return site_id


def require(*perms: Perm):
    """Dependency: an authenticated caller holding any of `perms` (403 otherwise)."""

    def dep(request: Request, who: Annotated[Principal, Depends(current_principal)],
            s: Annotated[Session, Depends(db)]) -> Ctx:
        if not any(who.can(p) for p in perms):
            raise Forbidden(f"role {who.role.value} may not do this ({' or '.join(p.value for p in perms)})")
        client = request.client.host if request.client else None
        return Ctx(who, s, app_state(request), client)

    return dep


# Annotated aliases: handlers declare `ctx: RegistryWrite` (ruff's B008 forbids calls in defaults).
Session_ = Annotated[Session, Depends(db)]
Caller = Annotated[Principal, Depends(current_principal)]
SitesRead = Annotated[Ctx, Depends(require(Perm.SITES_READ))]
SitesWrite = Annotated[Ctx, Depends(require(Perm.SITES_WRITE))]
RegistryRead = Annotated[Ctx, Depends(require(Perm.REGISTRY_READ))]
RegistryWrite = Annotated[Ctx, Depends(require(Perm.REGISTRY_WRITE))]
EntriesRead = Annotated[Ctx, Depends(require(Perm.ENTRIES_READ))]
EntriesExport = Annotated[Ctx, Depends(require(Perm.ENTRIES_EXPORT))]
EntriesReview = Annotated[Ctx, Depends(require(Perm.ENTRIES_REVIEW))]
AlertsRead = Annotated[Ctx, Depends(require(Perm.ALERTS_READ))]
AlertsAck = Annotated[Ctx, Depends(require(Perm.ALERTS_ACK))]
GatesRead = Annotated[Ctx, Depends(require(Perm.GATES_READ))]
ControlSet = Annotated[Ctx, Depends(require(Perm.CONTROL_SET))]
GatesWrite = Annotated[Ctx, Depends(require(Perm.GATES_WRITE))]
GatesProvision = Annotated[Ctx, Depends(require(Perm.GATES_PROVISION))]
GatesCommand = Annotated[Ctx, Depends(require(Perm.GATES_COMMAND, Perm.GATES_OPEN))]
StatsRead = Annotated[Ctx, Depends(require(Perm.STATS_READ))]
AuditRead = Annotated[Ctx, Depends(require(Perm.AUDIT_READ))]
UsersWrite = Annotated[Ctx, Depends(require(Perm.USERS_WRITE))]
