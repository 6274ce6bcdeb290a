"""The page's password as the gate file stores it: a salted scrypt hash, never the password.

Format: `scrypt$<log2 n>$<r>$<p>$<salt, base64>$<hash, base64>` (standard library only, so the box
needs nothing more). `menwei edge page-password` prints one for the gate file.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

# n = 2**14, r = 8: about 16 MB and 50 ms per check on a small box — slow for a guesser, quick for a guard
LOG2_N, R, P = 14, 8, 1
_DKLEN = 32


class BadPasswordHash(ValueError):
    pass


def hash_password(password: str, *, log2_n: int = LOG2_N) -> str:
    if not password:
        raise ValueError("the password is empty")
    salt = secrets.token_bytes(16)
    digest = _scrypt(password, salt, log2_n, R, P)
    return "$".join(["scrypt", str(log2_n), str(R), str(P), _b64(salt), _b64(digest)])


def parse_hash(encoded: str) -> tuple[bytes, int, int, int, bytes]:
    """(salt, log2 n, r, p, digest); BadPasswordHash names what is wrong."""
    parts = encoded.split("$")
    if len(parts) != 6 or parts[0] != "scrypt":
        raise BadPasswordHash("expected scrypt$N$R$P$SALT$HASH (make one with `menwei edge page-password`)")
    try:
        log2_n, r, p = int(parts[1]), int(parts[2]), int(parts[3])
        salt, digest = base64.b64decode(parts[4], validate=True), base64.b64decode(parts[5], validate=True)
    except ValueError:
        raise BadPasswordHash("cost figures or base64 unreadable (make one with `menwei edge page-password`)") from None
    # bounds keep a hand-edited file from making every login take minutes or gigabytes
    if not (10 <= log2_n <= 20 and 1 <= r <= 16 and 1 <= p <= 4 and len(salt) >= 8 and len(digest) >= 16):
        raise BadPasswordHash("cost or sizes out of range (log2 n 10..20, r 1..16, p 1..4, salt ≥ 8 bytes)")
    return salt, log2_n, r, p, digest


def verify_password(password: str, encoded: str) -> bool:
    salt, log2_n, r, p, digest = parse_hash(encoded)
    return hmac.compare_digest(_scrypt(password, salt, log2_n, r, p, len(digest)), digest)


def _scrypt(password: str, salt: bytes, log2_n: int, r: int, p: int, dklen: int = _DKLEN) -> bytes:
    n = 1 << log2_n
    return hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=dklen,
                          maxmem=2 * 128 * r * n * p + (1 << 20))


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
