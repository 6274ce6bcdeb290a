"""The part of a gate's configuration that the server may set (`ctl/config`, retained, versioned).

One model, used by the gate to accept or refuse what arrives and by the server to validate what
an officer stores (server/api), so both sides agree on what is valid. Device wiring (camera,
sensor, door driver, broker) stays in the gate's own YAML file: a wrong remote value there could
take a gate off the network for good.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from edge.pipeline.types import PipelineConfig
from edge.policy.config import PolicyConfig
from menwei.errors import fields_error


class RemoteConfigError(ValueError):
    """One line naming each offending field (`policy.fever: ...`)."""


class RemoteGateConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    policy: PolicyConfig = Field(default_factory=PolicyConfig)
    pipeline: PipelineConfig = Field(default_factory=PipelineConfig)
    door_open_ms: int = Field(3000, ge=100, le=60000, description="how long a granted entry holds the door open")
    command_ttl_s: float = Field(30.0, gt=0, le=600, description="a remote command older than this is refused")
    # set by the server from the compound's control level (server/control.py), shown on the gate's page
    control_level: Literal["normal", "heightened", "lockdown"] = "normal"
    visitor_passes: bool = Field(True, description="false: valid visitor passes are refused (pass_lockdown)")


def parse_remote_config(data: dict[str, Any] | None) -> RemoteGateConfig:
    try:
        return RemoteGateConfig.model_validate(data or {})
    except ValidationError as exc:
        raise RemoteConfigError(fields_error(exc)) from None
