"""MQTT clients from one URL (server and gate): ``mqtt://user:pass@host:1883`` or ``mqtts://…:8883``.

MQTT 5 first (shared subscriptions, session expiry, receive maximum); if the broker refuses the
protocol version (the in-process amqtt broker speaks 3.1.1 only) the same client is rebuilt as a
3.1.1 persistent session. Query parameters: ``?version=5|3.1.1`` forces a version, ``?ca=PATH``
names a CA file for mqtts, ``?insecure=1`` skips hostname checks (test brokers only).
"""

from __future__ import annotations

import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import parse_qs, unquote, urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from menwei.errors import MenweiError


class MqttError(MenweiError):
    code = "mqtt"


def redact_url(url: str) -> str:
    """The URL with its password (if any) replaced by ***: for errors and printed configs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user, _, host = parts.netloc.rpartition("@")
    return parts._replace(netloc=f"{user.split(':', 1)[0]}:***@{host}").geturl()


@dataclass(frozen=True)
class BrokerUrl:
    host: str
    port: int
    username: str | None = None
    password: str | None = None
    tls: bool = False
    version: str | None = None  # "5" / "3.1.1" / None = try 5 then 3.1.1
    ca_file: str | None = None
    insecure: bool = False

    @classmethod
    def parse(cls, url: str) -> BrokerUrl:
        parts = urlsplit(url)
        if parts.scheme not in ("mqtt", "mqtts"):
            raise MqttError(f"MQTT URL must start with mqtt:// or mqtts://, got {redact_url(url)!r}")
        if not parts.hostname:
            raise MqttError(f"MQTT URL has no host: {redact_url(url)!r}")
        tls = parts.scheme == "mqtts"
        try:
            port = parts.port or (8883 if tls else 1883)
        except ValueError:
            raise MqttError(f"MQTT URL has a bad port: {redact_url(url)!r}") from None
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        version = query.get("version")
        if version not in (None, "5", "3.1.1"):
            raise MqttError(f"MQTT URL version must be 5 or 3.1.1, got {version!r}")
        return cls(host=parts.hostname, port=port,
                   username=unquote(parts.username) if parts.username else None,
                   password=unquote(parts.password) if parts.password else None,
                   tls=tls, version=version, ca_file=query.get("ca"),
                   insecure=query.get("insecure") in ("1", "true", "yes"))

    def redacted(self) -> str:
        user = f"{self.username}:***@" if self.username else ""
        return f"{'mqtts' if self.tls else 'mqtt'}://{user}{self.host}:{self.port}"


@dataclass
class SessionOptions:
    client_id: str
    persistent: bool = True  # clean_start=False / clean_session=False
    session_expiry_s: int = 300  # short: see IngestSettings.session_expiry_s
    receive_maximum: int | None = None
    manual_ack: bool = False
    keepalive: int = 30


def _build(url: BrokerUrl, opts: SessionOptions, protocol: MQTTProtocolVersion) -> mqtt.Client:
    kwargs = {}
    if protocol != MQTTProtocolVersion.MQTTv5:
        kwargs["clean_session"] = not opts.persistent
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=opts.client_id, protocol=protocol,
                         manual_ack=opts.manual_ack, **kwargs)
    if url.username:
        client.username_pw_set(url.username, url.password)
    if url.tls:
        ctx = ssl.create_default_context(cafile=url.ca_file)
        if url.insecure:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        client.tls_set_context(ctx)
    # paho's default of 20 queued outgoing QoS>0 messages would throttle acks to busy gates
    client.max_inflight_messages_set(1000)
    client.max_queued_messages_set(0)
    return client


def _connect_properties(opts: SessionOptions) -> Properties:
    props = Properties(PacketTypes.CONNECT)
    if opts.persistent:
        # without a session expiry an MQTT 5 session ends at disconnect, clean_start or not
        props.SessionExpiryInterval = opts.session_expiry_s
    if opts.receive_maximum:
        props.ReceiveMaximum = opts.receive_maximum
    return props


def connect(url: str | BrokerUrl, opts: SessionOptions, *,
            setup: Callable[[mqtt.Client], None] | None = None, timeout: float = 10.0) -> mqtt.Client:
    """Connect and start the network thread; returns a connected client.

    ``setup(client)`` installs callbacks before the first CONNECT so no message of a resumed
    session is missed. Raises MqttError (one line) when the broker cannot be reached or refuses.
    """
    broker = url if isinstance(url, BrokerUrl) else BrokerUrl.parse(url)
    versions = {"5": [MQTTProtocolVersion.MQTTv5], "3.1.1": [MQTTProtocolVersion.MQTTv311]}.get(
        broker.version or "", [MQTTProtocolVersion.MQTTv5, MQTTProtocolVersion.MQTTv311])
    last = "no attempt"
    for protocol in versions:
        client = _build(broker, opts, protocol)
        result: dict[str, object] = {}
        done = threading.Event()

        def _on_connect(_c, _u, _flags, reason, _props, result=result, done=done):
            result["reason"] = reason
            done.set()

        def _on_disconnect(_c, _u, _flags, reason, _props, result=result, done=done):
            result.setdefault("reason", reason)
            done.set()

        if setup is not None:
            setup(client)
        user_connect, user_disconnect = client.on_connect, client.on_disconnect

        def on_connect(c, u, flags, reason, props, _oc=_on_connect, _uc=user_connect):
            _oc(c, u, flags, reason, props)
            if _uc is not None:
                _uc(c, u, flags, reason, props)

        def on_disconnect(c, u, flags, reason, props, _od=_on_disconnect, _ud=user_disconnect):
            _od(c, u, flags, reason, props)
            if _ud is not None:
                _ud(c, u, flags, reason, props)

        client.on_connect, client.on_disconnect = on_connect, on_disconnect
        try:
            if protocol == MQTTProtocolVersion.MQTTv5:
                client.connect(broker.host, broker.port, keepalive=opts.keepalive,
                               clean_start=not opts.persistent, properties=_connect_properties(opts))
            else:
                client.connect(broker.host, broker.port, keepalive=opts.keepalive)
        except (OSError, ssl.SSLError) as exc:
            raise MqttError(f"cannot reach MQTT broker {broker.redacted()}: {exc}") from None
        client.loop_start()
        # a 3.1.1-only broker may ignore an MQTT 5 CONNECT: do not wait the full timeout for it
        probe = min(timeout, 3.0) if protocol != versions[-1] else timeout
        answered = done.wait(probe)
        reason = result.get("reason")
        if answered and reason is not None and not getattr(reason, "is_failure", False) and client.is_connected():
            return client
        client.disconnect()
        client.loop_stop()
        if not answered:
            # 3.1.1-only brokers (amqtt) may just drop an MQTT 5 CONNECT: try the next version
            last = f"no CONNACK within {probe:.0f} s"
            continue
        last = str(reason)
        if "protocol" not in last.lower() and "unspecified" not in last.lower():
            # a refusal that is not about the protocol version (bad password, ...) is final
            break
    raise MqttError(f"MQTT broker {broker.redacted()} refused or ignored the connection: {last}")


def is_mqtt5(client: mqtt.Client) -> bool:
    return client.protocol == MQTTProtocolVersion.MQTTv5


def end_session(url: str | BrokerUrl, client_id: str, *, timeout: float = 10.0) -> bool:
    """End the broker's persistent session of ``client_id``; True if there was one.

    Resumes it (clean start off, so CONNACK says whether it existed) with a session expiry of 0 and
    without acknowledging anything it delivers, then disconnects: the broker drops the session, its
    queue and its shared-subscription memberships. MQTT 3.1.1 has no expiry, so a second,
    clean-session connection discards it there. Queued events are not lost for good: the gates'
    outboxes keep everything the server has not acked and send it again.
    """
    found: dict[str, bool] = {}

    def setup(client: mqtt.Client) -> None:
        def on_connect(_c, _u, flags, _reason, _props) -> None:
            found["present"] = bool(getattr(flags, "session_present", False))

        client.on_connect = on_connect

    opts = SessionOptions(client_id=client_id, persistent=True, session_expiry_s=0, manual_ack=True)
    client = connect(url, opts, setup=setup, timeout=timeout)
    mqtt5 = is_mqtt5(client)
    client.disconnect()
    client.loop_stop()
    if not mqtt5:
        again = connect(url, SessionOptions(client_id=client_id, persistent=False), timeout=timeout)
        again.disconnect()
        again.loop_stop()
    return found.get("present", False)
