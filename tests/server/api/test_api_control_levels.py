"""A compound's control level: an officer sets it with a reason, it is audited, and every gate of
the compound gets it in its retained config (the level's rules over the officer's own settings);
the gate's own policy then refuses what the level forbids."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from test_api_gate_config import _retained

from edge.agent.remote_config import parse_remote_config
from edge.policy import Evidence, GateCounters, Identity, Liveness, decide
from menwei.wire import Channel, Direction, TemperatureStatus, topic
from server.api.roles import Role
from server.config import ConfigError, load_settings
from server.db.models import AuditLog


def _setup(api, uid):
    site, other = f"s{uid}", f"o{uid}"
    api.add_site(site)
    api.add_site(other)
    admin = api.add_user(f"root{uid}", Role.ADMIN, [])
    officer = api.add_user(f"off{uid}", Role.COMMUNITY_OFFICER, [site])
    gates = [f"g{uid}a", f"g{uid}b"]
    for g in gates:
        r = api.client.post("/api/v1/gates", json={"id": g, "site_id": site, "direction": "in"}, headers=admin)
        assert r.status_code == 201, r.text
    return site, other, gates, admin, officer


def _decide(config, status: str | None, temperature: str = "unavailable", direction=Direction.IN):
    ident = Identity("r-1", 0.97, {"status": status} if status else {})
    ev = Evidence(identity=ident, temperature_c=None if temperature == "unavailable" else 36.6,
                  temperature_status=TemperatureStatus(temperature), liveness=Liveness(live=None),
                  direction=direction, at=datetime.now(UTC))
    return decide(config, ev, GateCounters())[0]


def test_lockdown_reaches_every_gate_of_the_compound_over_the_officers_settings(api, uid, broker_url):
    site, other, gates, admin, officer = _setup(api, uid)
    # the officer's own setting for one gate survives the level and comes back after it
    r = api.client.put(f"/api/v1/gates/{gates[0]}/config", json={"door_open_ms": 4000,
                                                                  "policy": {"fever": "soft"}}, headers=officer)
    assert r.status_code == 403  # an officer does not configure devices; the property company does
    pm = api.add_user(f"pm{uid}", Role.PROPERTY_MANAGER, [site])
    assert api.client.put(f"/api/v1/gates/{gates[0]}/config", json={"door_open_ms": 4000,
                                                                     "policy": {"fever": "soft"}},
                          headers=pm).status_code == 200
    try:
        r = api.client.put(f"/api/v1/sites/{site}/control-level",
                           json={"level": "lockdown", "reason": "district order 12: two cases in building 3"},
                           headers=officer)
        assert r.status_code == 200, r.text
        out = r.json()
        assert out["level"] == "lockdown" and out["set_by"] == f"off{uid}"
        assert [(g["gate_id"], g["published"]) for g in out["gates"]] == [(g, True) for g in gates]
        assert out["gates"][0]["config_version"] == 2  # above the officer's version 1
        for g in gates:
            msg = json.loads(_retained(broker_url, topic(site, g, Channel.CONFIG)))
            cfg = parse_remote_config(msg["config"])  # the gate's own model accepts it
            assert cfg.control_level == "lockdown" and cfg.visitor_passes is False
            # what the gate's policy does with it: no temperature, no entry; a registered visitor refused
            assert not _decide(cfg.policy, "resident").open_door
            assert _decide(cfg.policy, "resident", "normal").open_door
            v = _decide(cfg.policy, "visitor", "normal")
            assert not v.open_door and "control_level" in v.reasons
        first = parse_remote_config(json.loads(_retained(broker_url, topic(site, gates[0], Channel.CONFIG)))["config"])
        assert first.door_open_ms == 4000 and first.policy.fever == "soft"

        # back to normal: the officer's settings alone again, passes allowed
        r = api.client.put(f"/api/v1/sites/{site}/control-level", json={"level": "normal", "reason": "lifted"},
                           headers=officer)
        assert r.status_code == 200
        first = parse_remote_config(json.loads(_retained(broker_url, topic(site, gates[0], Channel.CONFIG)))["config"])
        assert (first.control_level, first.visitor_passes, first.door_open_ms) == ("normal", True, 4000)
        assert first.policy.temperature_unavailable == "admit" and first.policy.refuse_statuses == ()
        assert api.client.get(f"/api/v1/sites/{site}", headers=officer).json()["control_level"] == "normal"
        with api.sessions() as s:
            audit = s.scalars(select(AuditLog).where(AuditLog.action == "set_control_level")).all()
        assert [(a.username, a.detail["to"], a.detail["reason"][:8]) for a in audit] == [
            (f"off{uid}", "lockdown", "district"), (f"off{uid}", "normal", "lifted")]
    finally:
        for g in gates:  # clears each gate's retained messages at the shared broker
            assert api.client.delete(f"/api/v1/gates/{g}", headers=admin).status_code == 204


def test_who_may_set_a_level_and_what_is_refused(api, uid):
    site, other, gates, admin, officer = _setup(api, uid)
    url = f"/api/v1/sites/{site}/control-level"
    try:
        guard = api.add_user(f"guard{uid}", Role.GUARD, [site])
        assert api.client.put(url, json={"level": "lockdown", "reason": "x"}, headers=guard).status_code == 403
        stranger = api.add_user(f"off2{uid}", Role.COMMUNITY_OFFICER, [other])
        assert api.client.put(url, json={"level": "lockdown", "reason": "x"}, headers=stranger).status_code == 404
        for body in ({"level": "lockdown"}, {"level": "lockdown", "reason": ""}, {"level": "curfew", "reason": "x"}):
            assert api.client.put(url, json=body, headers=officer).status_code == 422, body
        # everyone of the compound may read it (the guard's screen shows it)
        r = api.client.get(url, headers=guard)
        assert r.status_code == 200 and r.json()["level"] == "normal" and r.json()["rules"]["visitor_passes"]
    finally:
        for g in gates:
            api.client.delete(f"/api/v1/gates/{g}", headers=admin)


@pytest.mark.parametrize("bad,field", [({"lockdown": {"policy": {"fever": "tepid"}}}, "fever"),
                                       ({"lockdown": {"policy": {"no_such_rule": 1}}}, "no_such_rule"),
                                       ({"curfew": {}}, "curfew")])
def test_level_rules_in_the_server_config_are_checked_against_the_gate_policy(tmp_path, bad, field):
    path = tmp_path / "server.yaml"
    path.write_text(json.dumps({"control_levels": bad}))
    with pytest.raises(ConfigError) as exc:
        load_settings(path)
    assert field in str(exc.value) and "control_levels" in str(exc.value)
