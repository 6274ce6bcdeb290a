"""The door controller: GPIO contacts (gpiod's own objects, no chip) → DoorRules → relay and events.
Time is a counter the test moves, so every rule is checked at its boundary."""

from __future__ import annotations

import pytest
from gpio_lines import RecordedLines
from gpiod.line import Value

from edge.door.base import DryRunDoor
from edge.door.controller import DoorController
from edge.door.gpio import GpioInputs, LineSpec
from edge.door.passback import SqlitePassbackStore
from edge.door.rules import DoorRules, RulesConfig
from menwei.errors import MenweiError

DOOR, EXIT, FIRE = 27, 22, 5
CFG = RulesConfig(release_s=3, exit_release_s=5, held_prealarm_s=15, held_alarm_s=30)


class Clock:
    def __init__(self, t: float = 1000.0):
        self.t = t

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def rig():
    clock = Clock()
    lines = RecordedLines({DOOR: Value.INACTIVE, EXIT: Value.INACTIVE, FIRE: Value.INACTIVE})
    inputs = GpioInputs("/dev/gpiochip0", door_contact=LineSpec(DOOR), exit_button=LineSpec(EXIT, active_low=True,
                        pull="up"), fire_alarm=LineSpec(FIRE), request_lines=lines)
    door = DryRunDoor(clock=clock)
    events = []
    ctl = DoorController(door, DoorRules(CFG), inputs, on_event=events.append, clock=clock)
    ctl.poll_once()  # the contacts' state at start
    return clock, lines, door, ctl, events


def reasons(events) -> list[str]:
    return [e.reason.value for e in events]


def test_fire_alarm_while_a_stranger_is_at_the_door(rig):
    clock, lines, door, ctl, events = rig
    # the stranger got no grant; the fire panel goes into alarm
    lines.inputs[FIRE] = Value.ACTIVE
    ctl.poll_once()
    assert reasons(events) == ["fire_alarm"] and door.state() == "open"
    assert door.actuations[-1].cause == "fire_alarm"
    # people stream out: the door opens without a grant and stays open for an hour, no alarm
    lines.inputs[DOOR] = Value.ACTIVE
    for dt in (1, 100, 3600):
        clock.t += dt
        ctl.poll_once()
    assert reasons(events) == ["fire_alarm"] and door.state() == "open"
    # the alarm clears: the door locks again (it is still open: now the held-open clock runs)
    lines.inputs[FIRE] = Value.INACTIVE
    ctl.poll_once()
    assert reasons(events) == ["fire_alarm", "fire_alarm_cleared"] and door.state() == "closed"
    assert ctl.state()["fire_alarm"] is False


def test_forced_open_and_held_open(rig):
    clock, lines, door, ctl, events = rig
    lines.inputs[DOOR] = Value.ACTIVE  # nobody was granted: forced
    ctl.poll_once()
    assert reasons(events) == ["forced_open"]
    lines.inputs[DOOR] = Value.INACTIVE
    ctl.poll_once()
    events.clear()
    ctl.grant(3000, "granted", 7, "alice")
    assert door.actuations[-1].event_seq == 7 and door.state() == "open"
    clock.t += 1
    lines.inputs[DOOR] = Value.ACTIVE  # opened under the grant: not forced
    ctl.poll_once()
    assert events == []
    clock.t += 14.999
    ctl.poll_once()
    assert events == []
    clock.t += 0.001
    ctl.poll_once()
    assert reasons(events) == ["held_open_prealarm"]
    clock.t += 15
    ctl.poll_once()
    ctl.poll_once()
    assert reasons(events) == ["held_open_prealarm", "held_open"]


def test_exit_button_opens_once_per_press_and_is_logged(rig):
    clock, lines, door, ctl, events = rig
    lines.inputs[EXIT] = Value.ACTIVE  # pressed (gpiod has applied active_low: the value is logical)
    ctl.poll_once()
    clock.t += 0.5
    ctl.poll_once()  # still held down: not a second press
    assert reasons(events) == ["exit_request"]
    assert [(a.cause, a.duration_ms) for a in door.actuations] == [("exit_request", 5000)]
    lines.inputs[DOOR] = Value.ACTIVE
    ctl.poll_once()
    assert reasons(events) == ["exit_request"]  # walking out is not forcing the door


def test_a_door_found_open_at_start_is_not_forced_but_is_held_open():
    clock = Clock()
    lines = RecordedLines({DOOR: Value.ACTIVE})
    events = []
    ctl = DoorController(DryRunDoor(clock=clock), DoorRules(CFG),
                         GpioInputs("/dev/gpiochip0", door_contact=LineSpec(DOOR), request_lines=lines),
                         on_event=events.append, clock=clock)
    ctl.poll_once()
    assert events == []
    clock.t += 30
    ctl.poll_once()
    assert reasons(events) == ["held_open_prealarm", "held_open"]


def test_an_unreadable_input_is_reported_and_changes_nothing(rig):
    clock, lines, door, ctl, events = rig

    def broken(offset):
        raise OSError("No such device")

    lines.get_value = broken  # the GPIO expander unplugged
    ctl.poll_once()
    assert events == [] and "No such device" in ctl.state()["inputs_error"]
    del lines.get_value
    lines.inputs[DOOR] = Value.ACTIVE
    ctl.poll_once()
    assert ctl.state()["inputs_error"] is None and reasons(events) == ["forced_open"]


@pytest.mark.parametrize("mode", ["soft", "hard"])
def test_anti_passback_across_the_in_and_out_gates_of_one_box(tmp_path, mode):
    """Two agents (the in gate and the out gate) share one passback file."""
    clock = Clock()
    cfg = RulesConfig(anti_passback=mode)
    path = tmp_path / "passback.sqlite"
    gate_in = DoorController(DryRunDoor(clock=clock), DoorRules(cfg, SqlitePassbackStore(path, clock=clock, wall=lambda: clock.t + 1.7e9)),
                             clock=clock)
    gate_out = DoorController(DryRunDoor(clock=clock), DoorRules(cfg, SqlitePassbackStore(path, clock=clock, wall=lambda: clock.t + 1.7e9)),
                              clock=clock)
    assert gate_in.check("alice", "in").allowed
    gate_in.grant(3000, "granted", 1, "alice", "in")
    clock.t += 10
    second = gate_in.check("alice", "in")  # in again, never out: her face let someone else in
    assert second.passback and second.allowed is (mode == "soft")
    result = gate_in.grant(3000, "granted", 2, "alice", "in")
    assert result.allowed is (mode == "soft")
    assert len(gate_in.door.actuations) == (2 if mode == "soft" else 1)
    clock.t += 10
    assert gate_out.check("alice", "out") == type(second)(allowed=True, passback=False)
    gate_out.grant(3000, "granted", 1, "alice", "out")
    clock.t += 10
    assert gate_in.check("alice", "in") == type(second)(allowed=True, passback=False)  # in, out, in is fine
    # after the reset time an old passage no longer counts (people leave by doors without a gate)
    gate_in.grant(3000, "granted", 3, "alice", "in")
    clock.t += cfg.anti_passback_reset_s + 1
    assert not gate_in.check("alice", "in").passback


def test_the_passback_file_survives_a_reboot(tmp_path):
    """The monotonic clock restarts at boot; the file's wall-clock times keep their meaning."""
    path = tmp_path / "passback.sqlite"
    before = SqlitePassbackStore(path, clock=lambda: 50_000.0, wall=lambda: 1_700_000_000.0)
    before.record("alice", "in", 50_000.0)
    before.close()
    # 60 s later, after a reboot: the monotonic clock reads 20 s
    after = SqlitePassbackStore(path, clock=lambda: 20.0, wall=lambda: 1_700_000_060.0)
    direction, at = after.last("alice")
    assert direction == "in" and at == pytest.approx(20.0 - 60.0)


def test_a_failing_event_handler_does_not_stop_the_door(rig):
    clock, lines, door, ctl, events = rig

    def refuse(event):
        raise MenweiError("queue gone")

    ctl._on_event = refuse
    lines.inputs[EXIT] = Value.ACTIVE
    ctl.poll_once()
    assert door.actuations[-1].cause == "exit_request"


def test_after_a_fire_alarm_the_held_open_time_starts_again(rig):
    clock, lines, door, ctl, events = rig
    lines.inputs[FIRE] = Value.ACTIVE
    lines.inputs[DOOR] = Value.ACTIVE
    ctl.poll_once()
    clock.t += 3600
    lines.inputs[FIRE] = Value.INACTIVE
    ctl.poll_once()
    clock.t += 14.9
    ctl.poll_once()
    assert reasons(events) == ["fire_alarm", "fire_alarm_cleared"]
    clock.t += 0.1
    ctl.poll_once()
    assert reasons(events)[-1] == "held_open_prealarm"
