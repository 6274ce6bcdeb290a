"""Control levels per compound (分级管控): what each level changes at the gates, and the remote
config a gate gets under its compound's level.

The rules of each level are server config (`control_levels:`), checked against the gate's own
policy model, so a level the server accepts is one every gate accepts. A level change reaches the
gates as a new version of their retained ctl/config: the officer's own settings for the gate,
with the level's policy fields laid over them (the level wins while it lasts; lowering the level
brings the officer's settings back).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from edge.agent.remote_config import RemoteGateConfig, parse_remote_config
from edge.policy.config import PolicyConfig, load_policy_config


class LevelRules(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    policy: dict[str, Any] = Field(default_factory=dict, description="gate policy fields this level sets "
                                   "(edge/policy/config.py), over the gate's own")
    visitor_passes: bool = Field(True, description="false: valid visitor passes are refused (pass_lockdown)")

    @field_validator("policy")
    @classmethod
    def _known_fields(cls, v: dict[str, Any]) -> dict[str, Any]:
        load_policy_config(v)  # unknown fields and bad values fail here, named
        return v


class ControlLevels(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    normal: LevelRules = Field(default_factory=LevelRules)
    # temperature mandatory: no reading, no entry (the guard checks with a handheld thermometer)
    heightened: LevelRules = Field(default_factory=lambda: LevelRules(policy={"temperature_unavailable": "deny"}))
    # residents only: no visitor passes, registered visitors refused; quarantined residents may not
    # leave at any level (edge/policy: quarantine_exit)
    lockdown: LevelRules = Field(default_factory=lambda: LevelRules(
        policy={"temperature_unavailable": "deny", "refuse_statuses": ["visitor"]}, visitor_passes=False))

    def rules(self, level: str) -> LevelRules:
        return getattr(self, str(level))


def effective_config(desired: dict[str, Any] | None, level: str, levels: ControlLevels) -> dict[str, Any]:
    """The config a gate runs: the officer's fields, the level's policy over them, the level named."""
    rules = levels.rules(level)
    out = {k: v for k, v in (desired or {}).items() if k not in ("control_level", "visitor_passes")}
    if rules.policy:
        out["policy"] = {**out.get("policy", {}), **rules.policy}
    out["control_level"] = str(level)
    out["visitor_passes"] = rules.visitor_passes
    return out


def effective_model(desired: dict[str, Any] | None, level: str, levels: ControlLevels) -> RemoteGateConfig:
    return parse_remote_config(effective_config(desired, level, levels))


__all__ = ["ControlLevels", "LevelRules", "PolicyConfig", "effective_config", "effective_model"]
