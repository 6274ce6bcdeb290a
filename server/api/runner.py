"""`menwei server run`: the API (uvicorn), the ingest worker and periodic retention in one process.

Without a broker URL an in-process amqtt broker is started first (the embedded default). On
start every compound's gallery is re-announced: retained messages may be missing on a fresh or
in-memory broker, and a publish that failed while the broker was down is retried here.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import threading

from server.config import Settings

log = logging.getLogger(__name__)


def _retention_loop(settings: Settings, sessions, republisher, stop: threading.Event) -> None:
    from server.retention import purge

    interval = settings.retention.interval_h * 3600
    while not stop.wait(interval):
        try:
            report = purge(sessions, settings.retention)
            for site_id in report.sites_changed:
                republisher.mark(site_id)
        except Exception:  # the server keeps serving; the next round retries
            log.exception("retention run failed")


def run_server(settings: Settings, *, embedded_broker: tuple[str, int] = ("127.0.0.1", 1883), ingest: bool = True,
               retention: bool = True, notifier=None) -> int:
    """``notifier``: a menwei.sdnotify.ServiceNotifier (READY once serving, WATCHDOG while /healthz answers)."""
    from sqlalchemy import select

    from menwei.mqtt import SessionOptions, connect
    from menwei.sdnotify import ServiceNotifier
    from server.api.app import create_app
    from server.api.broker import PahoPublisher
    from server.api.embedded_broker import EmbeddedBroker
    from server.api.settings import ApiSettings
    from server.db.models import Gate
    from server.db.session import make_engine, session_factory, upgrade
    from server.registry.faces import EngineHolder

    broker = None
    stop = threading.Event()
    worker = None
    publisher = None
    engine = make_engine(settings.db_url, sqlite_synchronous=settings.sqlite_synchronous)
    try:
        if not settings.mqtt_url:
            broker = EmbeddedBroker(*embedded_broker).start()
            settings = settings.model_copy(update={"mqtt_url": broker.url})
        upgrade(engine)  # idempotent: a fresh data dir works with no separate step
        sessions = session_factory(engine)
        client_id = f"menwei-api-{socket.gethostname()[:20]}-{os.getpid()}"
        publisher = PahoPublisher(connect(settings.mqtt_url, SessionOptions(client_id=client_id, persistent=False)))
        # one face engine per process, loaded on first use, shared by enrolment and the district re-match
        faces = EngineHolder(settings.pack)
        app = create_app(ApiSettings.from_server(settings), sessions, publisher=publisher, engine=faces)
        state = app.state.menwei
        if ingest:
            from server.ingest.worker import IngestWorker
            from server.reconcile.rematch import Rematcher

            rematcher = Rematcher(sessions, pack=settings.pack, engine_loader=faces.get) \
                if settings.ingest.rematch else None
            worker = IngestWorker(settings, sessions, rematcher=rematcher).start()
        if retention:
            threading.Thread(target=_retention_loop, args=(settings, sessions, state.republisher, stop),
                             name="retention", daemon=True).start()
        with sessions() as s:
            for site_id in sorted(set(s.scalars(select(Gate.site_id)))):
                state.republisher.mark(site_id)
        notifier = notifier or ServiceNotifier(None, None)
        server = _Server(uvicorn_config(app, settings))

        def ask_to_exit(*_) -> None:
            state.closing.set()  # live streams end first: uvicorn waits for open connections
            server.should_exit = True

        previous = {sig: signal.signal(sig, ask_to_exit) for sig in (signal.SIGINT, signal.SIGTERM)}

        def announce_ready() -> None:
            while not server.started and not stop.wait(0.05):
                pass
            if server.started:
                print(f"menwei server: API http://{settings.listen} (docs at /docs); "
                      f"MQTT {'in-process ' if broker else ''}{_redact_mqtt(settings.mqtt_url)}; "
                      f"ingest {'on' if worker else 'off'}", flush=True)
                notifier.ready(f"API on {settings.listen}")
                _watchdog(notifier, settings, stop)

        threading.Thread(target=announce_ready, daemon=True).start()
        try:
            server.run()  # returns after a graceful shutdown on SIGINT/SIGTERM
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        return 0
    finally:
        if notifier is not None:
            notifier.stopping()
        stop.set()
        if worker is not None:
            worker.stop()
        if publisher is not None:
            publisher.close()
        if broker is not None:
            broker.stop()
        engine.dispose()


def _watchdog(notifier, settings: Settings, stop: threading.Event) -> None:
    """Ping systemd only while the API answers its own /healthz: a thread that merely runs would
    keep a server whose event loop hangs alive forever."""
    import httpx

    if notifier.watchdog_s is None:
        return
    host = "127.0.0.1" if settings.listen_host in ("0.0.0.0", "") else settings.listen_host
    host = "[::1]" if host == "::" else (f"[{host}]" if ":" in host else host)
    url = f"http://{host}:{settings.listen_port}/healthz"
    period = notifier.watchdog_s / 3
    while not stop.wait(period):
        try:
            if httpx.get(url, timeout=period).status_code == 200:
                notifier.ping()
        except httpx.HTTPError:
            pass  # no ping: systemd restarts the server once WatchdogSec passes without one


def uvicorn_config(app, settings: Settings):
    """uvicorn's defaults believe X-Forwarded-For from 127.0.0.1 (or $FORWARDED_ALLOW_IPS): any local
    process could then choose the client address the login throttle and the audit log see. Proxy
    headers are read only from the configured `trusted_proxies`, and never by default."""
    import uvicorn

    trusted = list(settings.trusted_proxies)
    return uvicorn.Config(app, host=settings.listen_host, port=settings.listen_port, log_level="warning",
                          access_log=False, proxy_headers=bool(trusted),
                          forwarded_allow_ips=trusted or [],
                          # a connection still open after this is cut rather than holding the stop
                          timeout_graceful_shutdown=5)


def _make_server_class():
    import uvicorn

    class Server(uvicorn.Server):
        """uvicorn re-raises SIGTERM after its own shutdown, which would kill the process before the
        ingest worker and the broker are stopped; here the signal only asks the server to exit."""

        @contextlib.contextmanager
        def capture_signals(self):
            yield

    return Server


def _Server(config):
    return _make_server_class()(config)


def _redact_mqtt(url: str) -> str:
    from menwei.mqtt import BrokerUrl

    return BrokerUrl.parse(url).redacted()
