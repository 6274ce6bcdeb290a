"""Remote commands cannot replay: MQTT 5 message expiry at the real broker, expires_at in the payload."""

from __future__ import annotations

import threading
import time
import uuid
from datetime import UTC, datetime, timedelta

from menwei.mqtt import SessionOptions, connect, end_session, is_mqtt5
from menwei.wire import Command, CommandKind
from server.api.broker import PahoPublisher


def test_command_queued_for_offline_gate_expires_at_the_broker(broker_url, uid):
    t = f"menwei-test/{uid}/cmd-expiry/{uuid.uuid4().hex[:8]}"
    gate_id, pub_id = f"t-gate-{uid}", f"t-pub-{uid}"
    got: list[bytes] = []
    seen = threading.Event()

    def setup(c):
        def on_message(_c, _u, m):
            got.append(m.payload)
            seen.set()
        c.on_message = on_message

    gate = connect(broker_url, SessionOptions(client_id=gate_id, session_expiry_s=60), setup=setup)
    try:
        assert is_mqtt5(gate), "this test needs an MQTT 5 broker"
        gate.subscribe(t, qos=1)
        time.sleep(0.5)
        gate.disconnect()
        gate.loop_stop()
        pub = PahoPublisher(connect(broker_url, SessionOptions(client_id=pub_id, persistent=False)))
        try:
            pub.publish(t, b"short", qos=1, retain=False, expiry_s=1)
            pub.publish(t, b"long", qos=1, retain=False, expiry_s=60)
        finally:
            pub.close()
        time.sleep(2.5)  # the gate stays offline longer than the short command's expiry
        gate = connect(broker_url, SessionOptions(client_id=gate_id, session_expiry_s=60), setup=setup)
        assert seen.wait(5), "the unexpired command was not delivered from the persistent session"
        time.sleep(1.0)
        assert got == [b"long"]
    finally:
        gate.disconnect()
        gate.loop_stop()
        end_session(broker_url, gate_id)


def test_expires_at_round_trips_in_the_wire_command():
    issued = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    cmd = Command(command_id=uuid.uuid4(), kind=CommandKind.OPEN, operator="guard1", reason="courier",
                  issued_at=issued, expires_at=issued + timedelta(seconds=30))
    back = Command.model_validate_json(cmd.model_dump_json())
    assert back.expires_at == datetime(2026, 1, 1, 12, 0, 30, tzinfo=UTC)
