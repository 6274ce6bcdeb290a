"""The gate link's send loop against a client that locks the way paho does."""

from __future__ import annotations

import queue
import threading
import time
from types import SimpleNamespace

import paho.mqtt.client as mqtt

from edge.link.outbox import Outbox
from edge.link.session import GateLink, LinkHandlers


class PahoLikeClient:
    """paho's publish() takes the client's message lock, and its network thread calls on_publish
    for each PUBACK while holding that same lock. Here the PUBACK of every message is delivered
    while publish() has not yet returned: the case of a fast broker after a reconnect."""

    def __init__(self, on_publish):
        self.on_publish = on_publish
        self.lock = threading.Lock()
        self.mids = 0
        self.pubacks: queue.Queue[int] = queue.Queue()
        self.in_callback = threading.Event()
        self.sent: list[bytes] = []
        threading.Thread(target=self._network, daemon=True).start()

    def publish(self, _topic, payload, _qos, _retain):
        with self.lock:
            self.mids += 1
            mid = self.mids
            self.sent.append(payload)
        self.in_callback.clear()
        self.pubacks.put(mid)
        self.in_callback.wait(2)  # the network thread holds the lock and is calling back...
        with self.lock:  # ... and publish() needs the lock again before it returns
            pass
        return SimpleNamespace(rc=mqtt.MQTT_ERR_SUCCESS, mid=mid)

    def _network(self) -> None:
        while True:
            mid = self.pubacks.get()
            with self.lock:
                self.in_callback.set()
                self.on_publish(self, None, mid, None, None)


def test_pubacks_during_publish_neither_deadlock_nor_leak_the_window(tmp_path):
    outbox = Outbox(tmp_path / "o.sqlite")
    for i in range(20):
        outbox.append(lambda seq, i=i: (f"ev-{i}", f'{{"seq": {seq}}}'.encode()))
    link = GateLink("mqtt://127.0.0.1:1", "s1", "g1", outbox, LinkHandlers(), inflight=5)
    link._client = PahoLikeClient(link._on_publish)
    link.stats.connected = True
    sender = threading.Thread(target=link._send_loop, daemon=True)
    sender.start()
    try:
        # with the link's lock held across publish(), this stalled for good at the first message
        deadline = time.monotonic() + 10
        while link.stats.published < 20 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert link.stats.published == 20, "the send loop stalled"
        assert link.stats.confirmed == 20 and not link._unconfirmed  # every PUBACK counted, the window free
        assert link._client.sent == [p for _, p in outbox.pending(0, 20)]  # in seq order, each once
    finally:
        link._stop.set()
        sender.join(5)
        outbox.close()
