"""The door's rules inside the running gate agent: GPIO contacts (gpiod's own objects, no chip),
a real camera loop on a synthetic video, the outbox and the local broker."""

from __future__ import annotations

import json
import sys
import threading
import time
from pathlib import Path

import pytest
from gate_kit import gate_file, walkup_video
from gpiod.line import Value
from ingest_kit import wait_for

from edge.agent.agent import GateAgent
from edge.agent.config import load_gate_config
from edge.door.base import DryRunDoor
from edge.door.controller import open_inputs
from edge.door.passback import SqlitePassbackStore
from edge.face.engine import FaceEngine
from edge.link.outbox import Outbox

sys.path.insert(0, str(Path(__file__).parents[1] / "door"))
from gpio_lines import RecordedLines  # noqa: E402

DOOR, EXIT, FIRE = 27, 22, 5
INPUTS = {"chip": "/dev/gpiochip0", "door_contact": {"line": DOOR}, "exit_button": {"line": EXIT, "active_low": True,
                                                                                   "pull": "up"},
          "fire_alarm": {"line": FIRE}, "poll_ms": 10}


@pytest.fixture(scope="module")
def face():
    return FaceEngine.load()


def outbox_events(agent: GateAgent) -> list[dict]:
    """What the stopped agent left in its outbox for the server (nothing was acked)."""
    ob = Outbox(agent.data_dir / "outbox.sqlite")
    try:
        return [json.loads(payload) for _, payload in ob.pending(0, 1000)]
    finally:
        ob.close()


class Running:
    """The agent in a thread until the test is done with it (no server: nothing is acked)."""

    def __init__(self, agent: GateAgent):
        self.agent = agent
        self.thread = threading.Thread(target=agent.run, daemon=True)

    def __enter__(self) -> GateAgent:
        self.thread.start()
        return self.agent

    def __exit__(self, *exc) -> None:
        self.agent.stop()
        self.thread.join(30)
        assert not self.thread.is_alive()


def test_a_fire_alarm_while_a_stranger_is_at_the_door(broker_url, uid, tmp_path, faces_dir, face):
    video = walkup_video(tmp_path, faces_dir, scene="unknown")
    cfg = load_gate_config(gate_file(tmp_path, f"s{uid}", f"g{uid}", str(video), broker_url, faces_dir,
                                     door={"inputs": INPUTS}))
    lines = RecordedLines({DOOR: Value.INACTIVE, EXIT: Value.INACTIVE, FIRE: Value.INACTIVE})
    door = DryRunDoor(clock=time.monotonic)
    agent = GateAgent(cfg, engine=face, door=door, inputs=open_inputs(cfg.door, request_lines=lines))
    lines.inputs[FIRE] = Value.ACTIVE  # the fire panel is in alarm as the stranger walks up
    with Running(agent):
        assert wait_for(lambda: agent.counters.decisions >= 1 and agent.counters.door_events >= 1, timeout=90)
        lines.inputs[DOOR] = Value.ACTIVE  # people push the door open: no forced-open alarm in a fire
        time.sleep(0.2)
        assert door.state() == "open"
        assert agent.state()["door_io"]["fire_alarm"] is True
        lines.inputs[FIRE] = Value.INACTIVE
        assert wait_for(lambda: agent.counters.door_events >= 2, timeout=10)
        assert wait_for(lambda: door.state() == "closed", timeout=5)
    events = outbox_events(agent)
    stranger = [e for e in events if "unknown_face" in e["reasons"]]
    assert len(stranger) == 1 and stranger[0]["decision"] == "alert"
    assert [e["reasons"] for e in events if e["reasons"][0].startswith("fire")] == [["fire_alarm"],
                                                                                     ["fire_alarm_cleared"]]
    assert all(e["decision"] == "alert" for e in events if e["reasons"][0].startswith("fire"))
    assert not any("forced_open" in e["reasons"] for e in events)
    # the only release was the fire alarm's: the stranger's decision opened nothing
    assert [a.cause for a in door.actuations] == ["fire_alarm"]


def test_the_exit_button_and_a_forced_door_are_recorded(broker_url, uid, tmp_path, faces_dir, face):
    video = walkup_video(tmp_path, faces_dir, scene="unknown")
    cfg = load_gate_config(gate_file(tmp_path, f"s{uid}", f"g{uid}", str(video), broker_url, faces_dir,
                                     camera={"realtime": True}, door={"inputs": INPUTS}))
    lines = RecordedLines({DOOR: Value.INACTIVE, EXIT: Value.INACTIVE, FIRE: Value.INACTIVE})
    door = DryRunDoor(clock=time.monotonic)
    agent = GateAgent(cfg, engine=face, door=door, inputs=open_inputs(cfg.door, request_lines=lines))
    with Running(agent):
        time.sleep(0.3)
        lines.inputs[EXIT] = Value.ACTIVE
        assert wait_for(lambda: agent.counters.door_events >= 1, timeout=10)
        lines.inputs[EXIT] = Value.INACTIVE
        lines.inputs[DOOR] = Value.ACTIVE  # walking out under the exit release: not forced
        time.sleep(0.3)
        lines.inputs[DOOR] = Value.INACTIVE
        time.sleep(0.1)
        assert wait_for(lambda: door.state() == "closed", timeout=8)  # the exit release (5 s) is over
        lines.inputs[DOOR] = Value.ACTIVE  # now it is
        assert wait_for(lambda: agent.counters.door_events >= 2, timeout=10)
    reasons = [e["reasons"] for e in outbox_events(agent) if "unknown_face" not in e["reasons"]]
    assert reasons == [["exit_request"], ["forced_open"]]
    exit_event = next(e for e in outbox_events(agent) if e["reasons"] == ["exit_request"])
    assert (exit_event["decision"], exit_event["direction"]) == ("granted", "out")
    assert door.actuations[0].cause == "exit_request"


def test_hard_anti_passback_refuses_a_second_entry_before_it_is_recorded(broker_url, uid, tmp_path, faces_dir,
                                                                         face):
    video = walkup_video(tmp_path, faces_dir, scene="pair")  # obama and biden
    shared = tmp_path / "box" / "passback.sqlite"
    cfg = load_gate_config(gate_file(tmp_path, f"s{uid}", f"g{uid}", str(video), broker_url, faces_dir,
                                     door={"rules": {"anti_passback": "hard"}, "passback_file": str(shared)}))
    store = SqlitePassbackStore(shared)  # the box's other gate let obama in a minute ago; he never left
    store.record("obama", "in", time.monotonic() - 60)
    store.close()
    door = DryRunDoor(clock=time.monotonic)
    agent = GateAgent(cfg, engine=face, door=door)
    with Running(agent):
        assert wait_for(lambda: agent.counters.decisions >= 2, timeout=90)
    by_person = {e["person"].get("resident_id"): e for e in outbox_events(agent)}
    assert by_person["obama"]["decision"] == "denied" and "passback" in by_person["obama"]["reasons"]
    assert by_person["biden"]["decision"] == "granted" and "passback" not in by_person["biden"]["reasons"]
    assert [a.event_seq for a in door.actuations] == [by_person["biden"]["seq"]]
    # biden's entry is remembered for the box's other gate
    assert SqlitePassbackStore(shared).last("biden")[0] == "in"
