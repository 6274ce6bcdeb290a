"""Publishing server→gate control messages (ctl/gallery, ctl/cmd) from the API process.

The API only publishes; ingestion has its own subscriber connection. A publish waits for the
broker's PUBACK (QoS 1) so the API answers "sent" only when the broker holds the message
(retained messages are then delivered to a gate whenever it connects).
"""

from __future__ import annotations

import threading
from typing import Protocol

from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from menwei.errors import MenweiError
from menwei.mqtt import is_mqtt5
from menwei.wire import DELIVERY, Channel, topic


class BrokerUnavailable(MenweiError):
    code = "broker_unavailable"


class Publisher(Protocol):
    def publish(self, topic: str, payload: bytes, qos: int, retain: bool, expiry_s: int | None = None) -> None: ...


def publish_channel(pub: Publisher, site_id: str, gate_id: str, channel: Channel, payload: bytes,
                    expiry_s: int | None = None) -> None:
    qos, retain = DELIVERY[channel]
    pub.publish(topic(site_id, gate_id, channel), payload, qos, retain, expiry_s=expiry_s)


class PahoPublisher:
    """A paho client with its network loop in a thread; reconnects by itself."""

    def __init__(self, client, timeout_s: float = 10.0):
        self.client = client
        self.timeout_s = timeout_s
        self._lock = threading.Lock()

    def publish(self, topic: str, payload: bytes, qos: int, retain: bool, expiry_s: int | None = None) -> None:
        if not self.client.is_connected():
            raise BrokerUnavailable("not connected to the MQTT broker; try again shortly")
        props = None
        # MQTT 5: the broker drops the message for a gate that stays offline past expiry_s; on 3.1.1
        # there is no such property and the payload's expires_at (checked by the gate) is all there is
        if expiry_s is not None and is_mqtt5(self.client):
            props = Properties(PacketTypes.PUBLISH)
            props.MessageExpiryInterval = int(expiry_s)
        with self._lock:  # paho is thread-safe for publish, the lock only keeps ordering per process
            info = self.client.publish(topic, payload, qos=qos, retain=retain, properties=props)
        try:
            info.wait_for_publish(timeout=self.timeout_s)
        except (RuntimeError, ValueError) as exc:
            raise BrokerUnavailable(f"MQTT publish failed: {exc}") from None
        if not info.is_published():
            raise BrokerUnavailable(f"MQTT broker did not confirm {topic} within {self.timeout_s:.0f} s")

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


class NullPublisher:
    """For an API started without a broker: control messages are refused with a clear error."""

    def publish(self, topic: str, payload: bytes, qos: int, retain: bool, expiry_s: int | None = None) -> None:
        raise BrokerUnavailable("this server runs without an MQTT broker; gate messages cannot be sent")
