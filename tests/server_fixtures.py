"""tests/server's conftest as a module, for the test folders that reuse its fixtures and kits
(tests/page, tests/deploy). Loaded once under one name, so its session-scoped fixtures (the face
engine, the broker and database URLs) are one object however many folders use them."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

SERVER_TESTS = Path(__file__).resolve().parent / "server"
NAME = "server_tests_conftest"


def server_conftest() -> ModuleType:
    if str(SERVER_TESTS) not in sys.path:
        sys.path.insert(0, str(SERVER_TESTS))  # its kits: gate_kit, broker_kit, tls_kit, ingest_kit
    if NAME not in sys.modules:
        spec = importlib.util.spec_from_file_location(NAME, SERVER_TESTS / "conftest.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        sys.modules[NAME] = module
    return sys.modules[NAME]
