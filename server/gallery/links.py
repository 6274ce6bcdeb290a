"""Signed gallery download links, one per gate and credential generation.

A gallery holds the compound's embeddings, so only that compound's gates may fetch it. Each gate
gets a link carrying HMAC(site, version, gate, credential generation): the link travels on the
gate's own retained ``ctl/gallery`` topic, which the broker ACL lets only that gate read, so the
link is as secret as the gate's MQTT credentials. The link does not expire (a gate that was off
for a week must still fetch the retained version), but it names one version, one gate and the
gate's current MQTT password (its stored hash, which every rotation changes): deactivating or
deleting the gate, rotating its credentials (whoever held the old ones may have the link too), or
a newer version being published and older data pruned, ends it.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from urllib.parse import quote, urlencode

from sqlalchemy.orm import Session, sessionmaker

# gate id -> its credential generation (the stored MQTT password hash), None for an unknown gate
GenerationOf = Callable[[str], str | None]


def gate_generations(sessions: sessionmaker[Session]) -> GenerationOf:
    """Look a gate's credential generation up in the database (one short read per link signed)."""
    from server.db.models import Gate

    def generation_of(gate_id: str) -> str | None:
        with sessions() as s:
            g = s.get(Gate, gate_id)
            return None if g is None else (g.mqtt_password_hash or "")

    return generation_of


class LinkSigner:
    def __init__(self, secret: str, public_url: str, generation_of: GenerationOf | None = None):
        # a key of its own, derived from the server secret, so a link signature is never a token
        self._key = hmac.new(secret.encode(), b"menwei gallery links", hashlib.sha256).digest()
        self.public_url = public_url.rstrip("/")
        self._generation_of = generation_of

    def signature(self, site_id: str, version: int, gate_id: str, generation: str | None = None) -> str:
        msg = f"{site_id}\n{version}\n{gate_id}\n{generation or ''}".encode()
        return hmac.new(self._key, msg, hashlib.sha256).hexdigest()

    def url(self, site_id: str, version: int, gate_id: str) -> str:
        generation = self._generation_of(gate_id) if self._generation_of is not None else None
        query = urlencode({"gate": gate_id, "sig": self.signature(site_id, version, gate_id, generation)})
        return f"{self.public_url}/api/v1/gallery/{quote(site_id, safe='')}/{int(version)}?{query}"

    def check(self, site_id: str, version: int, gate_id: str, sig: str, generation: str | None = None) -> bool:
        return hmac.compare_digest(self.signature(site_id, version, gate_id, generation), sig or "")
