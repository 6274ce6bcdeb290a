"""The gate bundle: what `menwei server provision-gate` writes and `menwei edge install` reads.

One YAML file rather than an archive: the technician can read it (`less`), it is one thing to
copy and one secret to guard, and installing it unpacks nothing, so no archive path can escape
the install folder. It holds the gate file (its mqtts URL carries the gate's MQTT password) and,
inline, the CA certificate the gate trusts the broker by (public, but it must match the broker):

    # Menwei gate bundle ... SECRET: ...
    bundle: menwei.gate-bundle/1
    site: SITE_ID
    gate: GATE_ID
    created_at: 2026-01-01T00:00:00Z
    ca_pem: |            # null: the broker's certificate is trusted through the system's CAs
      -----BEGIN CERTIFICATE-----
      ...
    gate_file:           # a gate file (edge/agent/config.py), validated before it was written
      site: SITE_ID
      gate: GATE_ID
      mqtt: {url: "mqtts://gate.GATE_ID:PASSWORD@HOST:8883?ca=/etc/menwei/ca.pem"}
      ...

Both sides import this module, so the format is declared once.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from menwei.errors import MenweiError, fields_error

SCHEMA = "menwei.gate-bundle/1"
CA_FILE = "ca.pem"  # the CA's name beside the installed gate file


def default_install_dir(gate: str) -> Path:
    """/etc/menwei/<gate>: one folder per gate, so a box with an in and an out gate keeps two gate
    files and two CAs; the unit menwei-gate@<gate> reads its gate.yaml from there."""
    return Path("/etc/menwei") / gate
GATE_FILE = "gate.yaml"


class _Dumper(yaml.SafeDumper):
    """Multi-line strings (the CA's PEM) as literal blocks, so the file reads like the PEM itself."""


_Dumper.add_representer(str, lambda d, v: d.represent_scalar("tag:yaml.org,2002:str", v,
                                                             style="|" if "\n" in v else None))


class BundleError(MenweiError):
    code = "bad_bundle"


class GateBundle(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    schema_: Literal["menwei.gate-bundle/1"] = Field(SCHEMA, alias="bundle")
    site: str
    gate: str
    created_at: datetime
    ca_pem: str | None = None
    gate_file: dict[str, Any]

    @field_validator("ca_pem")
    @classmethod
    def _pem(cls, v: str | None) -> str | None:
        if v is not None and "-----BEGIN CERTIFICATE-----" not in v:
            raise ValueError("not a PEM certificate")
        return v

    def dump(self) -> str:
        head = (f"# Menwei gate bundle for gate {self.gate} of {self.site}.\n"
                "# SECRET: it holds the gate's MQTT password. Keep it 0600, delete it once installed.\n"
                "# Install on the box: menwei edge install THIS_FILE (docs/DEPLOY.md)\n")
        data = self.model_dump(mode="json", by_alias=True)
        return head + yaml.dump(data, Dumper=_Dumper, sort_keys=False, default_flow_style=False, width=1000)


def parse_bundle(text: str, where: str = "bundle") -> GateBundle:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        raise BundleError(f"{where}: not valid YAML (is it a gate bundle from `menwei server provision-gate`?)") from None
    if not isinstance(data, dict) or "bundle" not in data:
        raise BundleError(f"{where}: not a gate bundle (no `bundle: {SCHEMA}` key)")
    if data["bundle"] != SCHEMA:
        raise BundleError(f"{where}: bundle format {data['bundle']!r}, this menwei reads {SCHEMA!r}")
    try:
        return GateBundle.model_validate(data)
    except ValidationError as exc:
        raise BundleError(f"{where}: {fields_error(exc)}") from None
