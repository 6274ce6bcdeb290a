"""Signed gallery download links, one per gate.

A gallery holds the compound's embeddings, so only that compound's gates may fetch it. Each gate
gets a link carrying HMAC(site, version, gate): the link travels on the gate's own retained
``ctl/gallery`` topic, which the broker ACL lets only that gate read, so the link is as secret
as the gate's MQTT credentials. The link does not expire (a gate that was off for a week must
still fetch the retained version), but it names one version and one gate: deactivating or
deleting the gate, or a newer version being published and older data pruned, ends it.
"""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import quote, urlencode


class LinkSigner:
    def __init__(self, secret: str, public_url: str):
        # a key of its own, derived from the server secret, so a link signature is never a token
        self._key = hmac.new(secret.encode(), b"menwei gallery links", hashlib.sha256).digest()
        self.public_url = public_url.rstrip("/")

    def signature(self, site_id: str, version: int, gate_id: str) -> str:
        msg = f"{site_id}\n{version}\n{gate_id}".encode()
        return hmac.new(self._key, msg, hashlib.sha256).hexdigest()

    def url(self, site_id: str, version: int, gate_id: str) -> str:
        query = urlencode({"gate": gate_id, "sig": self.signature(site_id, version, gate_id)})
        return f"{self.public_url}/api/v1/gallery/{quote(site_id, safe='')}/{int(version)}?{query}"

    def check(self, site_id: str, version: int, gate_id: str, sig: str) -> bool:
        return hmac.compare_digest(self.signature(site_id, version, gate_id), sig or "")
