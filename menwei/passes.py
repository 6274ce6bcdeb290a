"""Visitor passes: issued and signed by the server (Ed25519), shown to a gate's camera as a QR
code, verified by the gate offline with the server's public key.

A pass names as little as it can: its id, the compound, the gates it opens (empty: every gate of
the compound), the host resident and its validity window. No visitor name or phone number is in
the code, since anyone who photographs it can read it.

Token: ``MW1.<base64url(JSON claims)>.<base64url(signature over "MW1." + claims part)>``,
short enough for a QR code a phone shows at arm's length.
"""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from menwei.errors import MenweiError

PREFIX = "MW1."
MAX_TOKEN = 1024  # anything longer is not ours: refused before any parsing


class PassRefused(MenweiError):
    """`code` is the reason a gate records: bad_format, bad_signature, not_yet_valid, expired,
    wrong_gate, revoked. `claims` is the pass when its signature verified (refused for time, gate
    or revocation: the server may name it), None when nothing it says can be believed."""

    def __init__(self, message: str, code: str, claims: VisitorPass | None = None):
        super().__init__(message, code)
        self.claims = claims


class VisitorPass(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    pass_id: uuid.UUID = Field(alias="p")
    site_id: str = Field(alias="s", min_length=1, max_length=64)
    gates: tuple[str, ...] = Field(default=(), alias="g")  # empty: every gate of the compound
    host_resident_id: str = Field(alias="h", min_length=1, max_length=64)
    not_before: int = Field(alias="nb", ge=0)  # Unix seconds
    not_after: int = Field(alias="na", ge=0)

    def claims(self) -> bytes:
        return json.dumps(self.model_dump(by_alias=True, mode="json"), separators=(",", ":"),
                          sort_keys=True).encode()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def new_signing_key() -> tuple[bytes, bytes]:
    """(private key, public key), 32 raw bytes each."""
    from cryptography.hazmat.primitives import serialization as ser

    private = Ed25519PrivateKey.generate().private_bytes(ser.Encoding.Raw, ser.PrivateFormat.Raw, ser.NoEncryption())
    return private, public_key_of(private)


def signing_key_from_secret(secret: str) -> bytes:
    """The server's pass key, derived from its signing secret (HKDF-SHA256): nothing more to keep
    or back up; a new secret means a new key (old passes stop verifying; gates need the new
    public key)."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    return HKDF(hashes.SHA256(), 32, salt=None, info=b"menwei visitor pass ed25519 v1").derive(secret.encode())


def public_key_of(private_key: bytes) -> bytes:
    from cryptography.hazmat.primitives import serialization as ser

    return Ed25519PrivateKey.from_private_bytes(private_key).public_key().public_bytes(ser.Encoding.Raw,
                                                                                          ser.PublicFormat.Raw)


def sign_pass(p: VisitorPass, private_key: bytes) -> str:
    body = PREFIX + _b64(p.claims())
    signature = Ed25519PrivateKey.from_private_bytes(private_key).sign(body.encode())
    return f"{body}.{_b64(signature)}"


def verify_pass(token: str, public_key: bytes, *, site_id: str, gate_id: str, now: datetime | None = None,
                revoked: frozenset[str] | set[str] = frozenset()) -> VisitorPass:
    """The pass if it may open `gate_id` of `site_id` now; PassRefused with its reason otherwise.
    The signature is checked before anything the token claims is believed."""
    if not isinstance(token, str) or len(token) > MAX_TOKEN or not token.startswith(PREFIX) or token.count(".") != 2:
        raise PassRefused("not a Menwei pass", "bad_format")
    body, sig = token.rsplit(".", 1)
    try:
        signature, claims = _unb64(sig), _unb64(body[len(PREFIX):])
    except (ValueError, TypeError):
        raise PassRefused("not a Menwei pass (bad encoding)", "bad_format") from None
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, body.encode())
    except (InvalidSignature, ValueError):
        raise PassRefused("signature does not match the server's key (forged or altered)", "bad_signature") from None
    try:
        p = VisitorPass.model_validate_json(claims)
    except ValidationError:
        raise PassRefused("signed, but its claims do not parse", "bad_format") from None
    t = int((now or datetime.now(UTC)).timestamp())
    if str(p.pass_id) in revoked:
        raise PassRefused(f"pass {p.pass_id} was revoked", "revoked", p)
    if t < p.not_before:
        raise PassRefused(f"pass valid only from {datetime.fromtimestamp(p.not_before, UTC).isoformat()}",
                          "not_yet_valid", p)
    if t >= p.not_after:
        raise PassRefused(f"pass expired at {datetime.fromtimestamp(p.not_after, UTC).isoformat()}", "expired", p)
    if p.site_id != site_id or (p.gates and gate_id not in p.gates):
        raise PassRefused(f"pass is for {p.site_id} {'/'.join(p.gates) or '(all gates)'}, not gate {gate_id}",
                          "wrong_gate", p)
    return p
