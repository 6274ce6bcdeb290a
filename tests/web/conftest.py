"""The web UI's tests reuse tests/server's fixtures (the session's face engine, uid) and its gate
helpers rather than keeping copies that could drift."""

from __future__ import annotations

import pytest
from server_fixtures import server_conftest

_server = server_conftest()  # also puts tests/server's kits on sys.path, which ui_kit needs

from ui_kit import launch_browser  # noqa: E402

uid = _server.uid
face_engine = _server.face_engine


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium, one per test file (each file's tabs get their own contexts)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = launch_browser(p)
        yield b
        b.close()
