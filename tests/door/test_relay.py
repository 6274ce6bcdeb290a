"""The CH340/LCUS relay driver against a simulated board on a pseudo-terminal, and the door
timing built on it."""

from __future__ import annotations

import json
import time

import pytest
from lcus_board import LcusBoard

from edge.door.ch340 import Ch340Relay, RelayError, frame, parse_frame
from edge.door.profiles import DoorProfileError, load_door_profile
from edge.door.relay import RelayDoor
from menwei.cli import main


def test_frames_are_the_boards_documented_commands():
    # the LCUS-1 documentation's own examples: "TURN ON: A0 01 01 A2", "TURN OFF: A0 01 00 A1"
    assert frame(1, True) == bytes.fromhex("A0 01 01 A2")
    assert frame(1, False) == bytes.fromhex("A0 01 00 A1")
    assert frame(4, True) == bytes.fromhex("A0 04 01 A5")  # 0xA0 + 4 + 1
    assert parse_frame(bytes.fromhex("A0 02 01 A3")) == (2, True)
    for bad in ("A0 01 01 A3", "A1 01 01 A3", "A0 01 02 A3", "A0 01 01"):
        with pytest.raises(ValueError):
            parse_frame(bytes.fromhex(bad))
    with pytest.raises(ValueError, match="channel"):
        frame(5, True)


def test_relay_switches_the_boards_relay_over_the_serial_line():
    board = LcusBoard(channels=2)
    relay = Ch340Relay(board.port, channel=2)
    try:
        relay.set(True)
        relay.set(False)
        switches = board.wait_switches(2)
        assert [(c, on) for _, c, on in switches] == [(2, True), (2, False)]
        assert bytes(board.raw) == bytes.fromhex("A0 02 01 A3 A0 02 00 A2") and board.ignored == 0
    finally:
        relay.close()
        board.unplug()


def test_door_releases_for_its_time_extends_and_relocks_when_stopped():
    board = LcusBoard()
    door = RelayDoor(Ch340Relay(board.port), "front")
    try:
        assert board.wait_switches(1)[0][1:] == (1, False)  # locked at start, whatever the board was
        door.open(300, "granted", 1)
        assert door.state() == "open"
        time.sleep(0.1)
        door.open(300, "granted", 2)  # a second person within the time: one longer opening
        switches = board.wait_switches(3, timeout=3)
        assert [on for _, _, on in switches] == [False, True, False]
        held = switches[2][0] - switches[1][0]
        assert held >= 0.38, f"released only {held:.3f} s"  # 0.1 s + the second 0.3 s
        assert door.state() == "closed" and [a.event_seq for a in door.actuations] == [1, 2]
        door.open(10_000, "remote_open")
        assert board.wait_switches(4)[-1][2] is True
    finally:
        door.close()  # the agent stops: the lock must not stay released
    assert board.wait_switches(5)[-1][2] is False
    board.unplug()


def test_a_fire_alarm_holds_the_relay_through_grants_until_it_clears():
    board = LcusBoard()
    door = RelayDoor(Ch340Relay(board.port), "front")
    try:
        board.wait_switches(1)
        door.hold(True, "fire_alarm")
        assert board.wait_switches(2)[-1][2] is True and door.state() == "open"
        door.open(100, "granted", 3)  # a grant's timer ends inside the alarm: the relay stays on
        time.sleep(0.3)
        assert len(board.wait_switches(2)) == 2 and door.state() == "open"
        door.hold(False, "fire_alarm")
        assert board.wait_switches(3)[-1][2] is False and door.state() == "closed"
        assert [a.cause for a in door.actuations] == ["fire_alarm", "granted"]
    finally:
        door.close()
        board.unplug()


def test_an_absent_or_unplugged_board_is_one_clear_line():
    with pytest.raises(RelayError, match="relay board on /dev/nosuch-tty: cannot open it"):
        Ch340Relay("/dev/nosuch-tty")
    board = LcusBoard()
    door = RelayDoor(Ch340Relay(board.port), "front")
    board.wait_switches(1)
    board.unplug()  # the USB cable pulled mid-run
    door.open(200, "granted", 7)  # must not raise into the agent's loop
    deadline = time.monotonic() + 3
    while door.state() != "error" and time.monotonic() < deadline:
        time.sleep(0.02)
    assert door.state() == "error" and "write failed" in door.last_error
    assert door.actuations[-1].event_seq == 7  # the attempt is recorded


def test_door_pulse_command_prints_what_it_sent(capsys):
    board = LcusBoard()
    try:
        assert main(["edge", "door", "pulse", "--driver", "ch340", "--port", board.port, "--ms", "150",
                     "--json"]) == 0
        out = json.loads(capsys.readouterr().out)
        assert [s["hex"] for s in out["sent"]] == ["a0 01 01 a2", "a0 01 00 a1"]
        on, off = board.wait_switches(2)
        assert off[0] - on[0] >= 0.14
        assert main(["edge", "door", "pulse", "--driver", "ch340", "--port", "/dev/nosuch-tty"]) == 2
        assert "cannot open it" in capsys.readouterr().err
    finally:
        board.unplug()


def test_door_profiles_are_valid_and_a_missing_one_is_named():
    for name in ("lcus-1-strike", "lcus-1-maglock"):
        p = load_door_profile(name)
        assert p.driver == "ch340" and p.channel == 1 and p.wiring
    assert load_door_profile("lcus-1-maglock").lock == "fail-safe"
    with pytest.raises(DoorProfileError, match="known: lcus-1-maglock, lcus-1-strike"):
        load_door_profile("nosuch")


def test_a_gate_file_with_a_relay_board_drives_it(tmp_path):
    from edge.agent.config import parse_gate_config
    from edge.door.base import open_door

    board = LcusBoard(channels=2)
    cfg = parse_gate_config({"site": "s", "gate": "g", "data_dir": str(tmp_path), "camera": {"source": "x.avi"},
                             "mqtt": {"url": "mqtt://127.0.0.1:1"},
                             "door": {"driver": "ch340", "port": board.port, "profile": "lcus-1-strike",
                                      "channel": 2}})
    door = open_door(cfg.door)
    try:
        door.open(100, "granted", 1)
        assert [(c, on) for _, c, on in board.wait_switches(3)] == [(2, False), (2, True), (2, False)]
    finally:
        door.close()
        board.unplug()
