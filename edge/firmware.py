"""Where the device profiles live: firmware_configs/<kind>/ beside the code, or the folder an
environment variable names (a site's own profiles, or a test's)."""

from __future__ import annotations

import os
from pathlib import Path

REPO_PROFILES = Path(__file__).resolve().parents[1] / "firmware_configs"


def profiles_dir(kind: str, env_var: str) -> Path:
    env = os.environ.get(env_var)
    return Path(env) if env else REPO_PROFILES / kind
