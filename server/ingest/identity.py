"""The ingest worker's MQTT client id: fixed per worker, but not guessable.

The broker keeps a persistent session (and, in a shared-subscription group, a share of the stream)
per client id, so the id must survive restarts. A well-known default (it used to be
``menwei-ingest-1``) lets anyone who can log in present it and take the session over; on the
gates' listener ``use_username_as_clientid`` already prevents that, and an id with 64 random bits
closes the same door on any listener. It is made once and kept in the data dir.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from server.config import Settings

CLIENT_ID_FILE = "ingest-client-id"
CLIENT_ID_PREFIX = "menwei-ingest-"


def resolve_client_id(settings: Settings) -> str:
    """``ingest.client_id`` if set, else the id stored in ``<data_dir>/ingest-client-id`` (made on first use)."""
    if settings.ingest.client_id:
        return settings.ingest.client_id
    path = Path(settings.data_dir) / CLIENT_ID_FILE
    try:
        value = path.read_text(encoding="utf-8").strip()
        if value:
            return value
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    value = f"{CLIENT_ID_PREFIX}{secrets.token_hex(8)}"
    tmp = path.with_name(f".{CLIENT_ID_FILE}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(value + "\n")
    try:
        os.link(tmp, path)  # first writer wins when two workers start at once
    except FileExistsError:
        value = path.read_text(encoding="utf-8").strip() or value
    finally:
        tmp.unlink()
    return value
