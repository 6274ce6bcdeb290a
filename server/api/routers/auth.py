"""Login (OAuth2 password → bearer JWT) and user accounts (admins)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, NoReturn

from fastapi import APIRouter, Depends, Request
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from menwei.throttle import Refusal, TooManyAttempts
from server.api.bounds import Int32
from server.api.deps import Caller, Session_, Unauthorized, UsersWrite, app_state
from server.api.roles import Role, permissions
from server.api.security import hash_password, verify_dummy, verify_password
from server.audit import Actor, record
from server.db.models import Role as DbRole
from server.db.models import Site, User, UserSite
from server.registry.service import Conflict, InvalidInput, NotFound

router = APIRouter(tags=["auth"])


class Token(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int


class Me(BaseModel):
    id: int
    username: str
    role: Role
    sites: list[str] | None  # null: all compounds (admin)
    # what the role may do (server/api/roles.py): the web UI shows only the pages these allow;
    # the API enforces them on every request regardless
    permissions: list[str] = []


@router.post("/auth/token", response_model=Token)
def login(request: Request, form: Annotated[OAuth2PasswordRequestForm, Depends()], s: Session_) -> Token:
    state = app_state(request)
    ip = request.client.host if request.client else None
    # before the database and bcrypt: a refused guess costs (almost) nothing, so a flood against one
    # account does not slow anybody else's login
    refused = state.throttle.begin(form.username, ip)
    if refused is not None:
        _throttled(s, state, form.username, ip, refused)
    user = s.scalar(select(User).where(User.username == form.username))
    if user is None:
        verify_dummy(form.password, state.settings.bcrypt_rounds)  # same time as a wrong password
        ok = False
    else:
        # the hash is checked for a disabled account too: answering it without the bcrypt work made
        # "disabled" 100x faster than "wrong password", an oracle for which accounts exist
        ok = verify_password(form.password, user.password_hash) and user.active
    # an unknown name is often a password typed into the wrong field: never store it verbatim
    name = user.username if user is not None else state.pseudonyms.unknown_user(form.username)
    record(s, Actor(name, user.id if user else None, ip), "login" if ok else "login_failed",
           "user", user.id if user else None)
    s.commit()
    if not ok:
        raise Unauthorized("wrong username or password")
    state.throttle.succeeded(form.username, ip)
    role = user.role.value if hasattr(user.role, "value") else str(user.role)
    token = state.tokens.issue(user.username, user.id, role, stamp=state.tokens.stamp(user.password_hash))
    return Token(access_token=token, expires_in=int(state.tokens.ttl.total_seconds()))


def _throttled(s: Session, state, typed: str, ip: str | None, refused: Refusal) -> NoReturn:
    if refused.first:  # one audit row per lock-out, not one per request of a flood
        user = s.scalar(select(User).where(User.username == typed))
        name = user.username if user is not None else state.pseudonyms.unknown_user(typed)
        record(s, Actor(name, user.id if user else None, ip), "login_throttled", "user",
               user.id if user else None, None, {"scope": refused.scope, "retry_after_s": refused.retry_after})
        s.commit()
    raise TooManyAttempts(f"too many failed logins for this {refused.scope}; retry in {refused.retry_after} s",
                          refused.retry_after)


@router.get("/auth/me", response_model=Me)
def me(who: Caller) -> Me:
    return Me(id=who.user_id, username=who.username, role=who.role,
              sites=sorted(who.sites) if who.sites is not None else None,
              permissions=sorted(p.value for p in permissions(who.role)))


class UserIn(BaseModel):
    username: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.@\-]+$")
    password: str = Field(min_length=8, max_length=72, repr=False)
    role: Role
    sites: list[str] = Field(default_factory=list, description="compounds this user sees (ignored for admins)")
    full_name: str | None = Field(default=None, max_length=200)


class UserOut(BaseModel):
    id: int
    username: str
    role: Role
    full_name: str | None
    active: bool
    sites: list[str]
    created_at: datetime


class UserPatch(BaseModel):
    # left out: unchanged; an explicit null is refused (full_name alone may be cleared)
    password: str = Field(default=None, min_length=8, max_length=72, repr=False)
    role: Role = None
    sites: list[str] = None
    active: bool = None
    full_name: str | None = Field(default=None, max_length=200)


def _user_out(s: Session, u: User) -> UserOut:
    sites = sorted(s.scalars(select(UserSite.site_id).where(UserSite.user_id == u.id)))
    return UserOut(id=u.id, username=u.username, role=Role(u.role.value), full_name=u.full_name,
                   active=u.active, sites=sites, created_at=u.created_at)


def _set_sites(s: Session, user: User, sites: list[str]) -> None:
    for site_id in sites:
        if s.get(Site, site_id) is None:
            raise InvalidInput(f"site {site_id} does not exist")
    user.sites = [UserSite(site_id=x) for x in sorted(set(sites))]


def create_user(s: Session, username: str, password: str, role: Role, sites: list[str],
                full_name: str | None = None, rounds: int = 12) -> User:
    """Shared with `menwei server init`; the caller commits."""
    if s.scalar(select(User.id).where(User.username == username)) is not None:
        raise Conflict(f"user {username} already exists")
    user = User(username=username, password_hash=hash_password(password, rounds), role=DbRole(role.value),
                full_name=full_name, active=True)
    s.add(user)
    s.flush()
    _set_sites(s, user, [] if role == Role.ADMIN else sites)
    s.flush()
    return user


@router.post("/users", response_model=UserOut, status_code=201)
def add_user(body: UserIn, ctx: UsersWrite) -> UserOut:
    user = create_user(ctx.s, body.username, body.password, body.role, body.sites, body.full_name,
                       ctx.app.settings.bcrypt_rounds)
    record(ctx.s, ctx.actor, "create", "user", user.id, None,
           {"username": body.username, "role": body.role.value, "sites": body.sites})
    out = _user_out(ctx.s, user)
    ctx.s.commit()
    return out


@router.get("/users", response_model=list[UserOut])
def list_users(ctx: UsersWrite) -> list[UserOut]:
    users = ctx.s.scalars(select(User).order_by(User.username)).all()
    out = [_user_out(ctx.s, u) for u in users]
    record(ctx.s, ctx.actor, "read", "user", None, None, {"count": len(out)})
    ctx.s.commit()
    return out


@router.patch("/users/{user_id}", response_model=UserOut)
def patch_user(user_id: Int32, body: UserPatch, ctx: UsersWrite) -> UserOut:
    user = ctx.s.get(User, user_id)
    if user is None:
        raise NotFound(f"user {user_id} not found")
    changed = body.model_dump(exclude_unset=True, exclude={"password"})
    if body.password is not None:
        user.password_hash = hash_password(body.password, ctx.app.settings.bcrypt_rounds)
        changed["password_changed"] = True
    if body.role is not None:
        user.role = DbRole(body.role.value)
    if body.active is not None:
        user.active = body.active
    if body.full_name is not None:
        user.full_name = body.full_name
    if body.sites is not None:
        _set_sites(ctx.s, user, body.sites)
    record(ctx.s, ctx.actor, "update", "user", user.id, None, changed)
    ctx.s.flush()
    out = _user_out(ctx.s, user)
    ctx.s.commit()
    return out
