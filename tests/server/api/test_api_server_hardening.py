"""Issue 8 item 7 (server parts): a short secret is refused in one line without its value, the
default data dir does not depend on the working directory, SQLite files are private, uvicorn
believes X-Forwarded-For only from configured proxies."""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from server.api.runner import uvicorn_config
from server.config import ConfigError, Settings, default_data_dir, load_settings
from server.db.session import make_engine, upgrade

REPO = Path(__file__).resolve().parents[3]
MENWEI = str(Path(sys.executable).with_name("menwei"))
SHORT = "hunter2-is-my-secret"  # 20 characters


def test_short_secret_in_the_environment_is_one_line_without_the_value(tmp_path):
    with pytest.raises(ConfigError) as info:
        load_settings(env={"MENWEI_SECRET_KEY": SHORT})
    assert "MENWEI_SECRET_KEY" in info.value.message and SHORT not in info.value.message
    # the whole command, as an operator sees it: one line on stderr, exit 2, no traceback
    env = {**os.environ, "MENWEI_SECRET_KEY": SHORT}
    proc = subprocess.run([MENWEI, "server", "run", "--data-dir", str(tmp_path), "--listen", "127.0.0.1:1",
                           "--mqtt", "mqtt://127.0.0.1:1"], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "MENWEI_SECRET_KEY" in lines[0], proc.stderr
    assert SHORT not in proc.stderr + proc.stdout and "Traceback" not in proc.stderr


def test_a_short_secret_given_directly_is_not_echoed_either():
    from pydantic import ValidationError

    from server.api.settings import ApiSettings

    with pytest.raises(ValidationError) as info:
        ApiSettings(secret=SHORT)
    assert SHORT not in str(info.value)


def test_default_data_dir_is_absolute_and_the_same_from_any_directory(tmp_path):
    assert default_data_dir(env={}, uid=0) == Path("/var/lib/menwei")
    assert default_data_dir(env={"XDG_DATA_HOME": "/srv/data", "HOME": "/home/u"}, uid=1000) == Path("/srv/data/menwei")
    assert default_data_dir(env={"HOME": "/home/u"}, uid=1000) == Path("/home/u/.local/share/menwei")
    code = "from server.config import Settings; s = Settings(); print(s.data_dir, s.db_url)"
    seen = set()
    for cwd in (tmp_path, REPO):
        out = subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, timeout=60,
                             env={**os.environ, "PYTHONPATH": str(REPO)}, check=True).stdout.split()
        assert Path(out[0]).is_absolute() and out[1] == f"sqlite:///{Path(out[0]) / 'server.db'}"
        seen.add(tuple(out))
    assert len(seen) == 1
    # a relative path given explicitly is made absolute once, when the settings load
    assert Settings(data_dir="rel/dir").data_dir == Path.cwd() / "rel" / "dir"


def test_sqlite_files_are_private_whatever_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        db = tmp_path / "new" / "server.db"
        url = f"sqlite:///{db}"
        upgrade(url)
        eng = make_engine(url)
        with eng.begin() as conn:  # a write: WAL and shared-memory files exist now
            conn.execute(text("CREATE TABLE t (x INTEGER)"))
            conn.execute(text("INSERT INTO t VALUES (1)"))
            for suffix in ("", "-wal", "-shm"):
                p = Path(str(db) + suffix)
                assert p.exists() and stat.S_IMODE(p.stat().st_mode) == 0o600, suffix
        eng.dispose()
        assert stat.S_IMODE(db.parent.stat().st_mode) == 0o700
        # a database left world-readable by an earlier version is tightened when opened
        os.chmod(db, 0o644)
        make_engine(url).dispose()
        assert stat.S_IMODE(db.stat().st_mode) == 0o600
    finally:
        os.umask(old)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def _echo_client(scope, receive, send):
    """A bare ASGI app answering with the client address uvicorn hands to the application."""
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    body = (scope.get("client") or ("-", 0))[0].encode()
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": body})


def _client_seen(settings: Settings, forwarded: str) -> str:
    import uvicorn

    server = uvicorn.Server(uvicorn_config(_echo_client, settings))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        assert server.started
        return httpx.get(f"http://{settings.listen}/", headers={"X-Forwarded-For": forwarded}, timeout=10).text
    finally:
        server.should_exit = True
        thread.join(20)


def test_forwarded_for_is_ignored_unless_the_proxy_is_trusted(monkeypatch):
    monkeypatch.setenv("FORWARDED_ALLOW_IPS", "*")  # uvicorn's own knob must not switch it on either
    plain = Settings(listen=f"127.0.0.1:{_free_port()}")
    assert _client_seen(plain, "198.51.100.77") == "127.0.0.1"
    proxied = load_settings(env={"MENWEI_TRUSTED_PROXIES": "127.0.0.1, 10.0.0.0/8"},
                            listen=f"127.0.0.1:{_free_port()}")
    assert proxied.trusted_proxies == ["127.0.0.1", "10.0.0.0/8"]
    assert _client_seen(proxied, "198.51.100.77") == "198.51.100.77"
