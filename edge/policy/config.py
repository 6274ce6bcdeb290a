"""The policy's typed config. Fever threshold and hard/soft come from the gate's thermal section
(edge.thermal.config.ThermalConfig) when given, so they are declared once."""

from __future__ import annotations

from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from edge.thermal.config import ThermalConfig
from menwei.errors import fields_error

_THERMAL = ThermalConfig.model_fields


class PolicyConfigError(ValueError):
    """A one-line message naming the offending field(s)."""


class PolicyConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    # hard: denied; soft: alert (the guard re-checks). Defaults differ from ThermalConfig's on purpose:
    # the contract asks the gate to deny a fever unless configured soft.
    fever: Literal["hard", "soft"] = "hard"
    fever_threshold_c: float = Field(default=_THERMAL["threshold_c"].default, ge=35.0, le=40.0)
    temperature_unavailable: Literal["admit", "deny", "alert"] = "admit"
    failed_matches_alert: int = Field(default=5, ge=1, le=1000)
    liveness_failed: Literal["deny", "alert"] = "alert"
    mask_required: bool = False
    # registry statuses refused at the door (a compound in lockdown: "visitor"); reason control_level
    refuse_statuses: tuple[str, ...] = ()
    timezone: str = "Asia/Shanghai"

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {v!r}") from exc
        return v

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @classmethod
    def from_thermal(cls, thermal: ThermalConfig, **kw: Any) -> PolicyConfig:
        """Threshold, hard/soft and deny-when-unavailable taken from the gate's thermal section."""
        base = {"fever": thermal.policy, "fever_threshold_c": thermal.threshold_c,
                "temperature_unavailable": "deny" if thermal.deny_when_unavailable else "admit"}
        return load_policy_config({**base, **kw})


def load_policy_config(data: dict[str, Any] | None) -> PolicyConfig:
    """Validate a gate's `policy:` section; errors name the field (`policy.fever: ...`)."""
    try:
        return PolicyConfig.model_validate(data or {})
    except ValidationError as exc:
        raise PolicyConfigError(fields_error(exc, "policy.")) from None
