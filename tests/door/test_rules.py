"""Every access rule at its boundaries (times in seconds from an arbitrary start)."""

from __future__ import annotations

import math

import pytest
from pydantic import ValidationError

from edge.door.rules import DoorAlarm, DoorRules, RulesConfig

CFG = RulesConfig(release_s=3, exit_release_s=5, held_prealarm_s=15, held_alarm_s=30)


def test_a_grant_releases_for_its_time_and_a_second_one_extends_it():
    r = DoorRules(CFG)
    assert r.grant(100.0).release_until == 103.0
    assert r.tick(102.999).release_until == 103.0
    assert r.grant(102.0).release_until == 105.0
    assert r.tick(105.0).release_until is None  # locked again exactly at the end


def test_fire_alarm_releases_and_overrides_everything_while_a_stranger_is_at_the_door():
    r = DoorRules(CFG)
    out = r.fire_alarm(10.0, True)
    assert out.alarms == (DoorAlarm.FIRE_ALARM,) and math.isinf(out.release_until)
    assert r.fire_alarm(11.0, True).alarms == ()  # raised once, not per poll
    # the stranger (no grant) pushes the door: no forced-open alarm, and it may stay open
    assert r.contact(12.0, True).alarms == ()
    assert r.tick(12.0 + 3600).alarms == ()
    cleared = r.fire_alarm(4000.0, False)
    assert cleared.logged == ("fire_alarm_cleared",) and cleared.release_until is None


def test_door_held_open_gives_a_prealarm_then_an_alarm_once_each():
    r = DoorRules(CFG)
    r.grant(0.0)
    assert r.contact(1.0, True).alarms == ()  # opened under a grant
    assert r.tick(15.999).alarms == ()
    assert r.tick(16.0).alarms == (DoorAlarm.HELD_OPEN_PREALARM,)
    assert r.tick(20.0).alarms == ()
    assert r.tick(31.0).alarms == (DoorAlarm.HELD_OPEN,)
    assert r.tick(90.0).alarms == ()
    r.contact(91.0, False)
    r.grant(100.0)
    r.contact(100.5, True)
    assert r.tick(115.5).alarms == (DoorAlarm.HELD_OPEN_PREALARM,)  # a new opening, a new episode


def test_door_opened_without_a_grant_is_forced():
    r = DoorRules(CFG)
    assert r.contact(5.0, True).alarms == (DoorAlarm.FORCED_OPEN,)
    r.contact(6.0, False)
    r.grant(10.0)
    assert r.contact(12.999, True).alarms == ()
    r.contact(13.2, False)
    assert r.contact(13.5, True).alarms == (DoorAlarm.FORCED_OPEN,)  # the release ended at 13.0


def test_exit_button_opens_and_is_logged():
    r = DoorRules(CFG)
    out = r.exit_button(50.0)
    assert out.release_until == 55.0 and out.logged == ("exit_request",) and out.alarms == ()
    assert r.contact(54.0, True).alarms == ()  # not forced


@pytest.mark.parametrize("mode", ["soft", "hard"])
def test_anti_passback(mode):
    r = DoorRules(RulesConfig(anti_passback=mode))
    assert r.grant(0.0, "alice", "in").allowed
    second = r.grant(10.0, "alice", "in")  # in again, never out: the card (face) let someone else in
    assert second.logged == ("passback",)
    assert second.allowed is (mode == "soft")
    assert (second.release_until is not None) is (mode == "soft")
    r2 = DoorRules(RulesConfig(anti_passback=mode))
    r2.grant(0.0, "alice", "in")
    assert r2.grant(5.0, "alice", "out").allowed and r2.grant(9.0, "alice", "in").allowed  # in, out, in is fine
    assert r2.grant(9.5, "bob", "in").logged == ()


def test_anti_passback_off_and_config_errors():
    r = DoorRules(RulesConfig())
    assert r.grant(0.0, "alice", "in").allowed and r.grant(1.0, "alice", "in").logged == ()
    with pytest.raises(ValidationError, match="held_alarm_s"):
        RulesConfig(held_prealarm_s=30, held_alarm_s=30)
