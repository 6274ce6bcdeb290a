"""The page served beside the agent: uvicorn in a thread of its own, with its own event loop,
started before the agent runs and stopped after it (`menwei edge run`)."""

from __future__ import annotations

import contextlib
import logging
import threading
import time

import uvicorn

from edge.agent.config import PageSection
from edge.page.app import create_app
from edge.page.view import AgentView, GateView
from menwei.errors import MenweiError

log = logging.getLogger(__name__)


class PageError(MenweiError):
    code = "page_failed"


class PageServer:
    def __init__(self, view: GateView, page: PageSection, *, port: int | None = None):
        host, configured = page.host_port
        self.app = create_app(view, page)
        self._where = f"{host}:{configured if port is None else port}"
        # no access log: the page's paths carry nothing personal, but there is no reason to keep them;
        # open streams get 2 s to finish before a stop cancels them
        self._server = uvicorn.Server(uvicorn.Config(
            self.app, host=host, port=configured if port is None else port, log_level="warning",
            access_log=False, lifespan="off", timeout_graceful_shutdown=2))
        self._thread: threading.Thread | None = None
        self.port: int | None = None

    def start(self, timeout_s: float = 10.0) -> PageServer:
        self._thread = threading.Thread(target=self._run, name="page", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise PageError(f"page: cannot serve on {self._where} (port taken or address not on this box?)")
            time.sleep(0.02)
        self.port = self._server.servers[0].sockets[0].getsockname()[1]  # the real one when asked for 0
        return self

    def _run(self) -> None:
        with contextlib.suppress(SystemExit):  # uvicorn exits when it cannot bind; start() reports it
            self._server.run()

    def stop(self) -> None:
        self.app.state.stopping.set()
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(10)


def start_page(agent, page: PageSection) -> PageServer | None:
    """The agent's page, or None when it cannot listen: the gate then runs without it (deciding
    and recording matter more than the page; /healthz is unreachable, so a healthcheck notices)."""
    try:
        server = PageServer(AgentView(agent), page).start()
    except PageError as exc:
        log.error("%s; the gate runs without its page", exc.message)
        return None
    log.info("status page on http://%s/", page.listen)
    return server
