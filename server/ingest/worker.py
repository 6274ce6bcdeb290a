"""The ingest worker: MQTT in, one transaction per batch, acks out after the commit.

Delivery contract (DESIGN.md): the gate deletes outbox rows with seq <= acked_seq, so
- the MQTT PUBACK of every message in a batch is sent (paho ``manual_ack``) only after the batch's
  transaction committed: a crash before that makes the broker redeliver on our persistent session;
- ``ctl/ack`` carries GateSeq.acked_seq, the highest seq N with every seq <= N committed, and is
  published after the commit too; duplicates are acknowledged again (the gate may have lost an ack).

Threads: paho's network thread only enqueues; a parse thread gathers a batch and validates it
(JSON, schema, base64) while the write thread commits the previous one (the database wait releases
the GIL, so the two overlap); an optional re-matcher thread does face inference off the hot path.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from typing import Any

import paho.mqtt.client as mqtt
from sqlalchemy.exc import DBAPIError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from menwei.mqtt import MqttError, SessionOptions, connect, is_mqtt5
from menwei.wire import Ack, Channel, shared_subscription, subscription, topic
from server.config import Settings
from server.db.types import utcnow
from server.ingest.identity import resolve_client_id
from server.ingest.silence import SilenceWatch
from server.ingest.store import BatchOutcome, BatchStore
from server.ingest.validate import MALFORMED, CaptureBounds, Incoming, Rejected, parse

log = logging.getLogger(__name__)


def subscriptions(settings: Settings, mqtt5: bool) -> list[tuple[str, int]]:
    """(topic filter, qos) for this worker.

    Entries and telemetry go through the shared group when the broker speaks MQTT 5 so several
    workers split them; status stays a plain subscription because brokers do not deliver retained
    messages to shared subscriptions, and the retained status is the gate's current state.
    """
    ing = settings.ingest
    sites = ing.sites or ["+"]
    group = ing.shared_group if mqtt5 else None
    out: list[tuple[str, int]] = []
    for site in sites:
        for channel in (Channel.ENTRY, Channel.TELEMETRY, Channel.STATUS):
            if group and channel != Channel.STATUS:
                filt = shared_subscription(channel, group, site)
            else:
                filt = subscription(channel, site)
            out.append((filt, 1 if channel != Channel.TELEMETRY else 0))
    return out


def _safe_parse(msg: Incoming, bounds: CaptureBounds):
    try:
        return parse(msg, bounds)
    except Exception as exc:  # noqa: BLE001 - a validator bug must reject one message, not stop the worker
        log.exception("unexpected error validating a message from %s", msg.topic[:200])
        return Rejected(msg, MALFORMED, f"{type(exc).__name__} while validating")


class IngestWorker:
    """``start()`` connects and starts the batching thread; ``stop()`` ends both.

    ``session_factory`` is a ``server.db.session.session_factory(engine)``; ``rematcher`` (optional)
    gets the ids of new entries with an unknown face after each commit.
    """

    def __init__(self, settings: Settings, session_factory: sessionmaker[Session], *, mqtt_url: str | None = None,
                 rematcher: Any | None = None, clock: Callable[[], datetime] = utcnow):
        self.settings = settings
        self.url = mqtt_url or settings.mqtt_url
        if not self.url:
            raise MqttError("no MQTT broker URL: set mqtt_url (MENWEI_MQTT_URL) or pass --mqtt")
        self._sessions = session_factory
        # one clock for the arrival time of messages and the silence check, so a test can move it
        self.clock = clock
        self.store = BatchStore(settings.ingest, now=clock)
        after = settings.ingest.gate_offline_after_s
        self.silence = SilenceWatch(session_factory, after, sites=settings.ingest.sites, clock=clock) \
            if after else None
        self.rematcher = rematcher
        self._queue: queue.Queue[Incoming] = queue.Queue()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._writers: list[threading.Thread] = []
        # parsed batches (numbered) waiting for a writer; small, so PUBACKs never lag far behind
        self._ready: queue.Queue[tuple[int, list[Incoming], list]] = queue.Queue(maxsize=2)
        # batches publish their acks and PUBACKs in arrival order (MQTT wants PUBACKs in order)
        self._turn = 0
        self._turn_cond = threading.Condition()
        self._client: mqtt.Client | None = None
        self._counts: Counter[str] = Counter()
        self._lock = threading.Lock()
        # set when the broker's SUBACK grants every filter (not when SUBSCRIBE is sent): events
        # published before that are not routed to this worker at all
        self.subscribed = threading.Event()
        self._suback = threading.Event()  # any SUBACK, granted or refused
        self._sub_mid: int | None = None
        self.client_id = resolve_client_id(settings)
        self.last_error: str | None = None

    # -- lifecycle ------------------------------------------------------------------------------
    def start(self) -> IngestWorker:
        ing = self.settings.ingest
        opts = SessionOptions(client_id=self.client_id, persistent=True, session_expiry_s=ing.session_expiry_s,
                              receive_maximum=ing.receive_maximum, manual_ack=True)
        self._stop.clear()
        # the threads first: a resumed session may deliver the moment CONNACK arrives
        self._turn = 0
        self._thread = threading.Thread(target=self._run, name="menwei-ingest-parse", daemon=True)
        # SQLite has one writer at a time anyway; PostgreSQL overlaps one batch's round trips with
        # the next batch's Python work
        n = 1 if self._sessions.kw["bind"].dialect.name == "sqlite" else ing.writers
        self._writers = [threading.Thread(target=self._write_loop, name=f"menwei-ingest-write-{i}", daemon=True)
                         for i in range(n)]
        for t in (self._thread, *self._writers):
            t.start()
        try:
            self._client = connect(self.url, opts, setup=self._setup)
        except MqttError:
            self._stop.set()
            for t in (self._thread, *self._writers):
                t.join()
            raise
        if not self._suback.wait(ing.subscribe_timeout_s) or not self.subscribed.is_set():
            why = self.last_error or f"no SUBACK within {ing.subscribe_timeout_s:.0f} s"
            self.stop()
            raise MqttError(f"the broker did not grant the ingest subscriptions: {why}")
        if self.rematcher is not None:
            self.rematcher.start()
        if self.silence is not None:
            self.silence.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop after the batch in hand; queued but uncommitted messages are not PUBACKed, so
        the broker delivers them again to the next worker with this client id."""
        self._stop.set()
        if self.silence is not None:
            self.silence.stop()
        for t in (self._thread, *self._writers):
            if t is not None:
                t.join(timeout)
        if self._client is not None:
            self._client.disconnect()
            self._client.loop_stop()
            self._client = None
        if self.rematcher is not None:
            self.rematcher.stop()

    def __enter__(self) -> IngestWorker:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._thread is not None and all(t.is_alive() for t in (self._thread, *self._writers))

    def counters(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)

    def _count(self, **values: int) -> None:
        with self._lock:
            self._counts.update({k: v for k, v in values.items() if v})

    # -- MQTT callbacks (paho network thread) ---------------------------------------------------
    def _setup(self, client: mqtt.Client) -> None:
        # known before CONNECT, so a batch committed right after CONNACK can be PUBACKed
        self._client = client
        client.on_connect = self._on_connect
        client.on_message = self._on_message
        client.on_subscribe = self._on_subscribe

    def _on_connect(self, client: mqtt.Client, _userdata, _flags, reason, _props) -> None:
        if reason.is_failure:
            return
        # re-subscribing on every (re)connect is harmless and repairs a session the broker dropped
        self.subscribed.clear()
        self._suback.clear()
        _rc, self._sub_mid = client.subscribe(subscriptions(self.settings, is_mqtt5(client)))

    def _on_subscribe(self, _client, _userdata, mid: int, reason_codes, _props) -> None:
        if mid != self._sub_mid:
            return
        refused = [str(rc) for rc in reason_codes if rc.is_failure]
        if refused:
            # e.g. an ACL that does not let this account read menwei/v1/#: not ready, say why
            self.last_error = f"SUBSCRIBE refused ({', '.join(sorted(set(refused)))})"
            log.error("broker refused the ingest subscriptions: %s", self.last_error)
        else:
            self.subscribed.set()
        self._suback.set()

    def _on_message(self, _client, _userdata, message: mqtt.MQTTMessage) -> None:
        self._queue.put(Incoming(message.topic, message.payload, message.mid, message.qos, bool(message.retain),
                                 self.clock()))

    # -- batching thread ------------------------------------------------------------------------
    def _run(self) -> None:
        number = 0
        while not self._stop.is_set():
            batch = self._gather()
            if not batch:
                continue
            parsed = [_safe_parse(m, self.store.bounds) for m in batch]
            while not self._stop.is_set():
                try:
                    self._ready.put((number, batch, parsed), timeout=0.2)
                    number += 1
                    break
                except queue.Full:
                    continue

    def _write_loop(self) -> None:
        while not self._stop.is_set():
            try:
                number, batch, parsed = self._ready.get(timeout=0.2)
            except queue.Empty:
                continue
            done = self._handle(batch, parsed)
            with self._turn_cond:
                while self._turn != number:
                    if self._stop.is_set():
                        return  # committed but not PUBACKed: redelivered, then ignored as duplicates
                    self._turn_cond.wait(0.2)
                for msgs, outcome in done:
                    self._after_commit(msgs, outcome)
                self._turn += 1
                self._turn_cond.notify_all()

    def _gather(self) -> list[Incoming]:
        ing = self.settings.ingest
        try:
            batch = [self._queue.get(timeout=0.2)]
        except queue.Empty:
            return []
        deadline = time.monotonic() + ing.batch_wait_ms / 1000
        while len(batch) < ing.batch_max:
            remaining = deadline - time.monotonic()
            try:
                batch.append(self._queue.get(timeout=remaining) if remaining > 0 else self._queue.get_nowait())
            except queue.Empty:
                break
        return batch

    def _handle(self, batch: list[Incoming], parsed: list | None = None) -> list[tuple[list[Incoming], BatchOutcome]]:
        """Commit the batch; returns what to acknowledge (empty if stopped before a commit)."""
        while not self._stop.is_set():
            try:
                with self._sessions() as session, session.begin():
                    outcome = self.store.process(session, batch, parsed)
            except (OperationalError, DBAPIError) as exc:
                if isinstance(exc, OperationalError) or exc.connection_invalidated:
                    # the database is away (or a lock conflict): keep the batch, nothing was PUBACKed
                    self._db_error(exc)
                    self._stop.wait(self.settings.ingest.retry_backoff_s)
                    continue
                return self._handle_singly(batch, exc)
            except Exception as exc:  # noqa: BLE001 - a bug must not kill the writer; find the culprit
                return self._handle_singly(batch, exc)
            return [(batch, outcome)]
        return []

    def _handle_singly(self, batch: list[Incoming], first: Exception) -> list[tuple[list[Incoming], BatchOutcome]]:
        """A batch the database refused as a whole: find the culprit one message at a time."""
        log.error("batch of %d refused (%s); retrying one by one", len(batch), type(first).__name__)
        done: list[tuple[list[Incoming], BatchOutcome]] = []
        for msg in batch:
            while not self._stop.is_set():
                try:
                    with self._sessions() as session, session.begin():
                        outcome = self.store.process(session, [msg])
                    done.append(([msg], outcome))
                    break
                except OperationalError as exc:
                    self._db_error(exc)
                    self._stop.wait(self.settings.ingest.retry_backoff_s)
                except Exception as exc:  # noqa: BLE001 - quarantined below, the worker goes on
                    try:
                        with self._sessions() as session, session.begin():
                            rej = self.store.quarantine_only(session, msg, f"{type(exc).__name__}: {exc}")
                        done.append(([msg], BatchOutcome(rejected=[rej])))
                        break
                    except SQLAlchemyError as exc2:
                        self._db_error(exc2)
                        self._stop.wait(self.settings.ingest.retry_backoff_s)
        return done

    def _db_error(self, exc: Exception) -> None:
        self.last_error = f"{type(exc).__name__}: {str(exc).splitlines()[0][:300]}"
        log.warning("database error, batch kept for retry: %s", self.last_error)
        self._count(db_errors=1)

    def _after_commit(self, batch: list[Incoming], outcome: BatchOutcome) -> None:
        client = self._client
        acks = 0
        if client is not None:
            for gate_id, (site_id, acked_seq) in outcome.acks.items():
                client.publish(topic(site_id, gate_id, Channel.ACK), Ack(acked_seq=acked_seq).model_dump_json(),
                               qos=1)
                acks += 1
            for msg in batch:
                if msg.qos > 0:
                    client.ack(msg.mid, msg.qos)
        rejected: Counter[str] = Counter(f"rejected_{r.reason}" for r in outcome.rejected)
        self._count(received=len(batch), batches=1, stored=outcome.inserted, duplicates=outcome.duplicates,
                    rejected=len(outcome.rejected), acks_published=acks, alerts=outcome.alerts,
                    health=outcome.health, seq_reuse=outcome.seq_reuse, **rejected)
        for r in outcome.rejected:
            # never the payload itself: it may carry a face
            log.info("quarantined %s from %s: %s", r.reason, r.msg.topic[:200], r.error[:200])
        if outcome.rematch and self.rematcher is not None:
            self.rematcher.submit(outcome.rematch)
            self._count(rematch_submitted=len(outcome.rematch))
