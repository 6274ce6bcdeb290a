"""Every rule of issue 9 item 3; expected values from the rules as written (docs/POLICY.md)."""

from datetime import UTC, datetime, timedelta

import pytest

from edge.policy import (
    Evidence,
    GateCounters,
    Identity,
    Liveness,
    PolicyConfig,
    PolicyConfigError,
    decide,
    in_schedule,
    load_policy_config,
    parse_schedule,
)
from menwei.wire import Direction, Reason, TemperatureStatus

AT = datetime(2026, 12, 7, 2, 0, tzinfo=UTC)  # Monday 10:00 in Asia/Shanghai (UTC+8)
CFG = PolicyConfig()


def ev(attrs=None, *, known=True, t=36.6, status=None, live=None, direction="in", at=AT, mask=None):
    status = status or (TemperatureStatus.UNAVAILABLE if t is None else
                        TemperatureStatus.FEVER if t >= 37.3 else TemperatureStatus.NORMAL)
    ident = Identity("r1", 0.9, {"status": "resident", **(attrs or {})}) if known else None
    return Evidence(identity=ident, temperature_c=t, temperature_status=status, liveness=Liveness(live=live),
                    direction=Direction(direction), at=at, mask=mask)


def run(e, cfg=CFG, counters=None):
    return decide(cfg, e, counters or GateCounters())[0]


def test_resident_normal_temperature_granted():
    v = run(ev())
    assert (v.decision, v.open_door) == ("granted", True)
    assert v.reasons == ("resident_recognised", "liveness_not_checked")


def test_unknown_face_alert():
    v = run(ev(known=False))
    assert (v.decision, v.open_door) == ("alert", False)
    assert v.reasons[0] == "unknown_face"


@pytest.mark.parametrize("mode,decision", [("hard", "denied"), ("soft", "alert")])
def test_fever_hard_or_soft(mode, decision):
    v = run(ev(t=38.6), PolicyConfig(fever=mode))
    assert v.decision == decision and not v.open_door and "fever" in v.reasons


def test_fever_threshold_inclusive():
    assert "fever" in run(ev(t=37.3, status=TemperatureStatus.NORMAL)).reasons
    assert run(ev(t=37.2)).decision == "granted"


@pytest.mark.parametrize("mode,decision", [("admit", "granted"), ("deny", "denied"), ("alert", "alert")])
def test_temperature_unavailable(mode, decision):
    v = run(ev(t=None), PolicyConfig(temperature_unavailable=mode))
    assert v.decision == decision and "temperature_unavailable" in v.reasons


def test_temperature_unavailable_default_admits_and_records():
    v = run(ev(t=None))
    assert v.decision == "granted" and "temperature_unavailable" in v.reasons


@pytest.mark.parametrize("status,reason", [("moved_out", "status_moved_out"), ("banned", "status_banned")])
def test_blocked_status_entering_alert(status, reason):
    v = run(ev({"status": status}))
    assert v.decision == "alert" and reason in v.reasons and not v.open_door


def test_blocked_status_may_leave():
    assert run(ev({"status": "banned"}, direction="out")).decision == "granted"


def test_quarantine_leaving_alert_entering_granted():
    q = {"status": "quarantine"}
    assert run(ev(q, direction="out")).reasons[1] == "quarantine_exit"
    assert run(ev(q, direction="out")).decision == "alert"
    assert run(ev(q, direction="in")).decision == "granted"


def test_quarantine_window_end_exclusive():
    q = {"status": "quarantine", "quarantine_until": AT.isoformat()}
    assert run(ev(q, direction="out")).decision == "granted"
    q = {"status": "quarantine", "quarantine_until": (AT + timedelta(seconds=1)).isoformat()}
    assert run(ev(q, direction="out")).decision == "alert"


def test_validity_window_boundaries_inclusive():
    at = AT.isoformat()
    assert run(ev({"valid_from": at})).decision == "granted"          # exactly at valid_from
    assert run(ev({"valid_until": at})).decision == "granted"         # exactly at valid_until
    early = run(ev({"valid_from": (AT + timedelta(microseconds=1)).isoformat()}))
    assert early.decision == "alert" and "not_yet_valid" in early.reasons
    late = run(ev({"valid_until": (AT - timedelta(microseconds=1)).isoformat()}))
    assert late.decision == "alert" and "expired" in late.reasons


def test_schedule_in_compound_timezone():
    sched = {"mon": [["08:00", "18:00"]]}
    assert run(ev({"schedule": sched})).decision == "granted"  # 10:00 Shanghai
    # same instant is Monday 02:00 in UTC: outside 08-18
    v = run(ev({"schedule": sched}), PolicyConfig(timezone="UTC"))
    assert v.decision == "denied" and "outside_schedule" in v.reasons


def test_schedule_boundaries_start_inclusive_end_exclusive():
    s = parse_schedule({"mon": [["10:00", "18:00"]]})
    tz = CFG.tz
    assert in_schedule(s, AT, tz)  # 10:00 exactly
    assert not in_schedule(s, AT - timedelta(seconds=1), tz)
    assert not in_schedule(s, AT + timedelta(hours=8), tz)  # 18:00 exactly
    assert in_schedule(s, AT + timedelta(hours=8, seconds=-1), tz)


def test_schedule_across_midnight():
    s = parse_schedule({"sun": [["22:00", "06:00"]]})
    tz = CFG.tz
    assert in_schedule(s, AT - timedelta(hours=5), tz)      # Monday 05:00 Shanghai, from Sunday's night
    assert not in_schedule(s, AT - timedelta(hours=4), tz)  # Monday 06:00: over
    assert in_schedule(s, AT - timedelta(hours=12), tz)     # Sunday 22:00
    assert not in_schedule(s, AT - timedelta(hours=12, seconds=1), tz)
    assert not in_schedule(s, AT + timedelta(days=6, hours=-5), tz)  # next Sunday 05:00: Saturday had none


def test_schedule_absent_day_outside():
    assert "outside_schedule" in run(ev({"schedule": {"tue": [["00:00", "24:00"]]}})).reasons


@pytest.mark.parametrize("bad,field", [({"mon": [["8:00", "18:00"]]}, "schedule.mon.0.0"),
                                       ({"mond": []}, "schedule.mond"),
                                       ({"mon": [["08:00", "08:00"]]}, "schedule.mon.0")])
def test_schedule_validation_names_field(bad, field):
    with pytest.raises(ValueError, match=field.replace(".", r"\.")):
        parse_schedule(bad)


def test_liveness_failed():
    v = run(ev(live=False))
    assert v.decision == "alert" and "liveness_failed" in v.reasons
    assert run(ev(live=False), PolicyConfig(liveness_failed="deny")).decision == "denied"
    ok = run(ev(live=True))
    assert ok.decision == "granted" and "liveness_not_checked" not in ok.reasons


def test_mask_required():
    cfg = PolicyConfig(mask_required=True)
    assert "mask_missing" in run(ev(mask=False), cfg).reasons
    assert run(ev(mask=False), cfg).decision == "denied"
    assert run(ev(mask=False)).decision == "granted"


def test_n_failed_matches_alert_and_reset():
    c = GateCounters()
    seen = []
    for _ in range(5):
        v, c = decide(CFG, ev(known=False), c)
        seen.append("repeated_failed_matches" in v.reasons)
    assert seen == [False, False, False, False, True]
    # counter resets on a success: 4 failures, 1 success, 4 failures → no alert
    c = GateCounters()
    for e in [ev(known=False)] * 4 + [ev()] + [ev(known=False)] * 4:
        v, c = decide(CFG, e, c)
        assert "repeated_failed_matches" not in v.reasons
    assert c.consecutive_failures == 4
    v, c = decide(PolicyConfig(failed_matches_alert=2), ev(known=False), GateCounters(1))
    assert "repeated_failed_matches" in v.reasons and v.decision == "alert"


def test_fever_and_unknown_order():
    v = run(ev(known=False, t=38.6))
    assert v.decision == "alert"
    assert v.reasons == ("unknown_face", "liveness_not_checked", "fever")


def test_expired_and_fever_and_outside_schedule_order():
    a = {"valid_until": (AT - timedelta(days=1)).isoformat(), "schedule": {"tue": [["08:00", "09:00"]]}}
    v = run(ev(a, t=38.6))
    assert v.reasons == ("resident_recognised", "expired", "outside_schedule", "liveness_not_checked", "fever")
    assert v.decision == "alert"


def test_reasons_are_wire_codes():
    for e in [ev(), ev(known=False, t=None), ev({"status": "banned"}, t=39.0, live=False)]:
        assert all(r in set(Reason) for r in run(e).reasons)


@pytest.mark.parametrize("data,field", [({"fever": "maybe"}, "policy.fever"),
                                        ({"failed_matches_alert": 0}, "policy.failed_matches_alert"),
                                        ({"timezone": "Mars/Olympus"}, "policy.timezone"),
                                        ({"fever_threshold_c": 50}, "policy.fever_threshold_c"),
                                        ({"colour": "red"}, "policy.colour")])
def test_config_errors_name_field(data, field):
    with pytest.raises(PolicyConfigError, match=field):
        load_policy_config(data)


def test_config_from_thermal_section_reuses_threshold():
    from edge.thermal.config import ThermalConfig
    cfg = PolicyConfig.from_thermal(ThermalConfig(threshold_c=37.8, policy="soft"))
    assert (cfg.fever, cfg.fever_threshold_c) == ("soft", 37.8)
    assert PolicyConfig().fever_threshold_c == 37.3


def test_naive_time_rejected():
    with pytest.raises(ValueError, match="at"):
        run(ev(at=datetime(2026, 12, 7, 10, 0)))
