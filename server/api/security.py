"""Passwords (bcrypt) and bearer tokens (JWT, HS256) for the REST API.

bcrypt is deliberately slow, so logins cost ~0.2 s; tokens are then checked with a cheap HMAC.
The signing secret comes from the settings or from a file generated once with mode 0600, so a
restart does not log everybody out and the secret never appears in a config file by accident.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import bcrypt
import jwt

from menwei.errors import MenweiError

ALGORITHM = "HS256"
ISSUER = "menwei-server"
# bcrypt only reads the first 72 bytes; longer passwords are refused rather than silently cut.
MAX_PASSWORD_BYTES = 72
MIN_PASSWORD_CHARS = 8


class WeakPassword(MenweiError):
    code = "weak_password"


class InvalidToken(MenweiError):
    code = "invalid_token"


def check_password_policy(password: str) -> None:
    if len(password) < MIN_PASSWORD_CHARS:
        raise WeakPassword(f"password must have at least {MIN_PASSWORD_CHARS} characters")
    if len(password.encode()) > MAX_PASSWORD_BYTES:
        raise WeakPassword(f"password must be at most {MAX_PASSWORD_BYTES} bytes (bcrypt's limit)")


def hash_password(password: str, rounds: int = 12) -> str:
    check_password_policy(password)
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=rounds)).decode()


def verify_password(password: str, hashed: str | None) -> bool:
    """Constant-time check; False (never an exception) for an empty or malformed hash."""
    if not hashed or len(password.encode()) > MAX_PASSWORD_BYTES:
        return False
    try:
        return bcrypt.checkpw(password.encode(), hashed.encode())
    except ValueError:
        return False


@functools.lru_cache(maxsize=4)
def _dummy_hash(rounds: int) -> str:
    return bcrypt.hashpw(b"menwei-no-such-user", bcrypt.gensalt(rounds=rounds)).decode()


def verify_dummy(password: str, rounds: int = 12) -> None:
    """Verify against a fixed hash of the accounts' cost, so a login for an unknown name takes as
    long as one with a wrong password (no user enumeration by timing)."""
    verify_password(password, _dummy_hash(rounds))


def load_or_create_secret(path: Path) -> str:
    """Read the JWT signing secret from `path`, creating it (0600) with 256 random bits if missing."""
    path = Path(path)
    try:
        text = path.read_text().strip()
        if len(text) >= 32:
            return text
    except FileNotFoundError:
        pass
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(48)
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(secret + "\n")
    try:
        # link() fails if another process created the file meanwhile: then both use the winner's secret
        os.link(tmp, path)
    except FileExistsError:
        secret = path.read_text().strip()
    finally:
        tmp.unlink(missing_ok=True)
    return secret


@dataclass(frozen=True)
class TokenClaims:
    username: str
    user_id: int
    role: str
    expires_at: datetime
    stamp: str  # the password generation the token was issued for (see TokenIssuer.stamp)


class TokenIssuer:
    def __init__(self, secret: str, ttl: timedelta = timedelta(hours=8)):
        if len(secret) < 32:
            raise MenweiError("the token secret must be at least 32 characters", code="bad_secret")
        self._secret = secret
        self._stamp_key = hmac.new(secret.encode(), b"menwei password generation", hashlib.sha256).digest()
        self.ttl = ttl

    def stamp(self, password_hash: str | None) -> str:
        """A short keyed digest of the stored password hash. bcrypt salts every hash, so any password
        change (even to the same password) changes it, and tokens issued before no longer match;
        keyed, so the value in the (readable) token says nothing about the hash."""
        digest = hmac.new(self._stamp_key, (password_hash or "").encode(), hashlib.sha256).digest()
        return digest[:12].hex()

    def issue(self, username: str, user_id: int, role: str, now: datetime | None = None, *,
              stamp: str = "") -> str:
        now = now or datetime.now(UTC)
        claims = {
            "sub": username,
            "uid": user_id,
            "role": role,
            "pwv": stamp,
            "iss": ISSUER,
            "iat": int(now.timestamp()),
            "exp": int((now + self.ttl).timestamp()),
        }
        return jwt.encode(claims, self._secret, algorithm=ALGORITHM)

    def verify(self, token: str) -> TokenClaims:
        try:
            c = jwt.decode(token, self._secret, algorithms=[ALGORITHM], issuer=ISSUER,
                           options={"require": ["sub", "uid", "role", "exp", "iss", "pwv"]})
        except jwt.ExpiredSignatureError:
            raise InvalidToken("token expired") from None
        except jwt.PyJWTError as exc:
            raise InvalidToken(f"invalid token ({type(exc).__name__})") from None
        return TokenClaims(str(c["sub"]), int(c["uid"]), str(c["role"]),
                           datetime.fromtimestamp(c["exp"], UTC), str(c["pwv"]))


class Pseudonyms:
    """Keyed digests for strings that must not be stored but should stay comparable: the name typed
    at a failed login for an account that does not exist is often a password typed into the wrong
    field. The same text gives the same pseudonym (repeated attempts can be told apart), and
    without the server secret it cannot be tested against guesses."""

    def __init__(self, secret: str):
        self._key = hmac.new(secret.encode(), b"menwei audit pseudonyms", hashlib.sha256).digest()

    def of(self, text: str) -> str:
        return hmac.new(self._key, text.encode("utf-8", "replace"), hashlib.sha256).hexdigest()[:16]

    def unknown_user(self, typed: str) -> str:
        return f"unknown-user:{self.of(typed)}"
