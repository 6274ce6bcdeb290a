"""The zero-setup MQTT broker: amqtt, in-process, on its own event-loop thread.

Only for `menwei server run` without --mqtt (a laptop demo, a single small compound). It speaks
MQTT 3.1.1, keeps retained messages and sessions in memory only (a restart loses queued messages,
so production uses Mosquitto, see DESIGN.md) and lets anyone connect.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading

from menwei.errors import MenweiError

log = logging.getLogger(__name__)


class EmbeddedBrokerError(MenweiError):
    code = "embedded_broker"


class EmbeddedBroker:
    def __init__(self, host: str = "127.0.0.1", port: int = 1883):
        self.host, self.port = host, port
        self._loop: asyncio.AbstractEventLoop | None = None
        self._broker = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}?version=3.1.1"

    def start(self, timeout: float = 15.0) -> EmbeddedBroker:
        with socket.socket() as probe:  # a clear error instead of amqtt's traceback when the port is taken
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((self.host, self.port))
            except OSError as exc:
                raise EmbeddedBrokerError(
                    f"cannot start the in-process MQTT broker on {self.host}:{self.port} ({exc.strerror}); "
                    "is another broker running there? then pass --mqtt mqtt://HOST:PORT") from None
        self._thread = threading.Thread(target=self._run, name="embedded-mqtt-broker", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise EmbeddedBrokerError("the in-process MQTT broker did not start")
        if self._error is not None:
            raise EmbeddedBrokerError(f"the in-process MQTT broker failed: {self._error}")
        log.warning("in-process MQTT broker (amqtt) on %s:%d — for demos; use Mosquitto in production",
                    self.host, self.port)
        return self

    def _run(self) -> None:
        from amqtt.broker import Broker

        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        config = {
            "listeners": {"default": {"type": "tcp", "bind": f"{self.host}:{self.port}"}},
            "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
        }

        async def boot():
            self._broker = Broker(config)
            await self._broker.start()

        try:
            loop.run_until_complete(boot())
        except BaseException as exc:  # noqa: BLE001 - reported to the starting thread
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        loop.run_forever()
        loop.close()

    def stop(self) -> None:
        if self._loop is None or self._broker is None:
            return
        fut = asyncio.run_coroutine_threadsafe(self._broker.shutdown(), self._loop)
        try:
            fut.result(timeout=10)
        except Exception:  # noqa: BLE001 - best effort on the way out
            log.debug("embedded broker shutdown", exc_info=True)
        self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(timeout=10)
