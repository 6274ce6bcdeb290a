"""Where the device profiles live: firmware_configs/<kind>/ of this installation
(menwei.resources), or the folder an environment variable names (a site's own profiles, or a
test's)."""

from __future__ import annotations

import os
from pathlib import Path

from menwei.resources import data_dir


def profiles_dir(kind: str, env_var: str) -> Path:
    env = os.environ.get(env_var)
    return Path(env) if env else data_dir("firmware_configs") / kind
