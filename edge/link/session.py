"""The gate's MQTT link: sends the outbox, applies acks, receives commands, gallery and config.

Delivery (../shared/DESIGN.md, docs/GATE.md): events go out QoS 1 over a persistent session, at
most `inflight` unconfirmed at a time, in seq order. A row leaves the outbox only when `ctl/ack`
covers it. After every (re)connect the link starts again from the oldest unacked seq, and it does
so too when acks stop advancing for `resend_after_s` while events wait (the ingest worker may
have lost what the broker delivered to it): duplicates are expected, the server keeps one per
event_id. The retained `status` says `online` with the gate's versions; the Last Will says
`offline`.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import paho.mqtt.client as mqtt
from pydantic import ValidationError

from edge.link.outbox import Outbox
from menwei.mqtt import BrokerUrl, MqttError, SessionOptions, connect
from menwei.wire import (
    DELIVERY,
    Ack,
    Channel,
    Command,
    GalleryAnnouncement,
    GateConfigMessage,
    gate_control_filter,
    gate_username,
    parse_topic,
    topic,
)

log = logging.getLogger(__name__)


@dataclass
class LinkHandlers:
    """What the agent does with what the server sends (called from the MQTT thread; keep short)."""

    command: Callable[[Command, float | None], None] = lambda cmd, expiry: None
    gallery: Callable[[GalleryAnnouncement], None] = lambda ann: None
    config: Callable[[GateConfigMessage], None] = lambda msg: None
    status: Callable[[], dict] = dict  # extra fields of the retained `online` status


@dataclass
class LinkStats:
    connected: bool = False
    connects: int = 0
    published: int = 0  # PUBLISH packets of entry events sent (re-sends included)
    confirmed: int = 0  # PUBACKs received
    acks: int = 0  # ctl/ack messages applied
    resends: int = 0  # times sending restarted from the oldest unacked seq
    bad_messages: int = 0  # server messages that did not parse
    last_error: str | None = None
    ack_latency_ms: list[float] = field(default_factory=list)  # publish → covering ack (last 1000)


class GateLink:
    def __init__(self, url: str, site_id: str, gate_id: str, outbox: Outbox, handlers: LinkHandlers, *,
                 client_id: str | None = None, inflight: int = 50, session_expiry_s: int = 86400,
                 resend_after_s: float = 20.0, backoff: tuple[float, float] = (0.5, 10.0)):
        self.broker = BrokerUrl.parse(url)
        self.site_id, self.gate_id = site_id, gate_id
        self.outbox = outbox
        self.handlers = handlers
        # the broker binds client ids to usernames (use_username_as_clientid): the gate's own name
        self.client_id = client_id or gate_username(gate_id)
        self.inflight = inflight
        self.session_expiry_s = session_expiry_s
        self.resend_after_s = resend_after_s
        self.backoff = backoff
        self.stats = LinkStats()
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._client: mqtt.Client | None = None
        self._cursor = 0  # highest seq handed to the broker in this connection
        self._unconfirmed: dict[int, int] = {}  # mid -> seq
        self._early: set[int] = set()  # mids confirmed while publish() had not yet returned
        self._generation = 0  # bumped whenever sending restarts from the oldest unacked seq
        self._sent_at: dict[int, float] = {}  # seq -> first publish time (for ack latency)
        self._progress_t = time.monotonic()
        self._threads: list[threading.Thread] = []

    # ---- lifecycle
    def start(self) -> GateLink:
        for target, name in ((self._connect_loop, "link-connect"), (self._send_loop, "link-send")):
            t = threading.Thread(target=target, name=name, daemon=True)
            t.start()
            self._threads.append(t)
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        for t in self._threads:
            t.join(timeout)
        client = self._client
        if client is not None:
            # a clean shutdown says so (the Will is for crashes); the session stays for the next start
            self._publish_status(client, {"state": "offline"})
            client.disconnect()
            client.loop_stop()

    def notify(self) -> None:
        """A new event is in the outbox."""
        with self._cond:
            self._cond.notify_all()

    def wait_drained(self, timeout: float) -> bool:
        """True once the outbox is empty (everything acked)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.outbox.stats().depth == 0:
                return True
            with self._cond:
                self._cond.wait(0.05)
        return self.outbox.stats().depth == 0

    def publish_telemetry(self, data: dict) -> None:
        client = self._client
        if client is not None and self.stats.connected:
            qos, retain = DELIVERY[Channel.TELEMETRY]
            client.publish(self._topic(Channel.TELEMETRY), json.dumps(data, default=str).encode(), qos, retain)

    def republish_status(self) -> None:
        client = self._client
        if client is not None and self.stats.connected:
            self._publish_status(client, self._online())

    # ---- connecting
    def _topic(self, channel: Channel) -> str:
        return topic(self.site_id, self.gate_id, channel)

    def _online(self) -> dict:
        return {"state": "online", **self.handlers.status(), "at": datetime.now(UTC).isoformat()}

    def _publish_status(self, client: mqtt.Client, data: dict) -> None:
        qos, retain = DELIVERY[Channel.STATUS]
        client.publish(self._topic(Channel.STATUS), json.dumps(data).encode(), qos, retain)

    def _setup(self, client: mqtt.Client) -> None:
        qos, retain = DELIVERY[Channel.STATUS]
        client.will_set(self._topic(Channel.STATUS), json.dumps({"state": "offline"}).encode(), qos, retain)
        client.reconnect_delay_set(self.backoff[0], self.backoff[1])
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_publish = self._on_publish

    def _connect_loop(self) -> None:
        """Until the first connection succeeds (the broker may be away when the gate boots); after
        that paho reconnects by itself, resuming the same session."""
        delay = self.backoff[0]
        opts = SessionOptions(client_id=self.client_id, persistent=True, session_expiry_s=self.session_expiry_s)
        while not self._stop.is_set():
            try:
                self._client = connect(self.broker, opts, setup=self._setup, timeout=10.0)
                return
            except MqttError as exc:
                self.stats.last_error = exc.message
                log.warning("gate link: %s; retrying in %.1f s", exc.message, delay)
                if self._stop.wait(delay):
                    return
                delay = min(self.backoff[1], delay * 2)

    def _on_connect(self, client, _u, flags, reason, _props) -> None:
        if getattr(reason, "is_failure", False):
            self.stats.last_error = str(reason)
            return
        client.subscribe(gate_control_filter(self.site_id, self.gate_id), qos=1)
        self._publish_status(client, self._online())
        with self._cond:
            self.stats.connected = True
            self.stats.connects += 1
            self._restart_sending()
            self._cond.notify_all()
        log.info("gate link: connected to %s (session present: %s)", self.broker.redacted(),
                 getattr(flags, "session_present", None))

    def _on_disconnect(self, _c, _u, _flags, reason, _props) -> None:
        with self._cond:
            self.stats.connected = False
            self.stats.last_error = f"disconnected: {reason}"
            self._unconfirmed.clear()
            self._early.clear()
            self._generation += 1
            self._cond.notify_all()

    def _restart_sending(self) -> None:
        """From the oldest unacked seq again (caller holds the condition)."""
        self._cursor = self.outbox.stats().acked_seq
        self._unconfirmed.clear()
        self._early.clear()
        self._generation += 1
        self._progress_t = time.monotonic()
        self.stats.resends += 1

    # ---- sending
    def _send_loop(self) -> None:
        # paho calls on_publish holding its own message lock, and publish() takes that lock: so
        # the link's condition is never held while calling into paho (that order deadlocked)
        while not self._stop.is_set():
            with self._cond:
                client = self._client
                room = self.inflight - len(self._unconfirmed)
                if client is None or not self.stats.connected or room <= 0:
                    self._cond.wait(0.2)
                    continue
                if (self._cursor > self.outbox.stats().acked_seq
                        and time.monotonic() - self._progress_t > self.resend_after_s):
                    log.warning("gate link: no ack for %.0f s; sending again from the oldest unacked event",
                                self.resend_after_s)
                    self._restart_sending()
                rows = self.outbox.pending(self._cursor, room)
                if not rows:
                    self._cond.wait(0.2)
                    continue
                generation = self._generation
            self._send(client, rows, generation)

    def _send(self, client: mqtt.Client, rows: list[tuple[int, bytes]], generation: int) -> None:
        qos, retain = DELIVERY[Channel.ENTRY]
        entry_topic = self._topic(Channel.ENTRY)
        for seq, payload in rows:
            info = client.publish(entry_topic, payload, qos, retain)
            with self._cond:
                if info.rc != mqtt.MQTT_ERR_SUCCESS or generation != self._generation:
                    return  # disconnected or restarted meanwhile: sending starts again from the oldest
                if info.mid in self._early:  # its PUBACK came before publish() returned
                    self.stats.confirmed += 1
                else:
                    self._unconfirmed[info.mid] = seq
                self._early.clear()  # any other mid there is a re-send paho made on its own
                self._sent_at.setdefault(seq, time.monotonic())
                self._cursor = seq
                self.stats.published += 1

    def _on_publish(self, _c, _u, mid, _reason, _props) -> None:
        with self._cond:
            if self._unconfirmed.pop(mid, None) is not None:
                self.stats.confirmed += 1
            else:
                self._early.add(mid)
            self._cond.notify_all()

    # ---- receiving
    def _on_message(self, _c, _u, msg) -> None:
        try:
            _site, _gate, channel = parse_topic(msg.topic)
        except ValueError:
            return
        try:
            if channel == Channel.ACK:
                self._apply_ack(Ack.model_validate_json(msg.payload).acked_seq)
            elif channel == Channel.CMD:
                expiry = None
                props = getattr(msg, "properties", None)
                if props is not None and hasattr(props, "MessageExpiryInterval"):
                    expiry = float(props.MessageExpiryInterval)
                self.handlers.command(Command.model_validate_json(msg.payload), expiry)
            elif not msg.payload:
                return  # an empty retained message clears an announcement: keep what we have
            elif channel == Channel.GALLERY:
                self.handlers.gallery(GalleryAnnouncement.model_validate_json(msg.payload))
            elif channel == Channel.CONFIG:
                self.handlers.config(GateConfigMessage.model_validate_json(msg.payload))
        except (ValidationError, ValueError) as exc:
            self.stats.bad_messages += 1
            log.warning("gate link: refused a malformed %s message: %s", channel.value,
                        str(exc).splitlines()[0][:200])
        except Exception:  # a handler's bug must not kill the network thread
            log.exception("gate link: handling %s failed", channel.value)

    def _apply_ack(self, acked_seq: int) -> None:
        self.outbox.ack(acked_seq)
        now = time.monotonic()
        with self._cond:
            self.stats.acks += 1
            self._progress_t = now
            for seq in [s for s in self._sent_at if s <= acked_seq]:
                self.stats.ack_latency_ms.append(1000 * (now - self._sent_at.pop(seq)))
            del self.stats.ack_latency_ms[:-1000]
            self._cond.notify_all()
