"""The gate's decision policy: a pure function of a typed config, the evidence and the gate's counters.
See docs/POLICY.md for the rules table and reason codes."""

from edge.policy.config import PolicyConfig, PolicyConfigError, load_policy_config
from edge.policy.decide import Evidence, GateCounters, Identity, Liveness, Verdict, decide
from edge.policy.schedule import in_schedule, parse_schedule

__all__ = ["Evidence", "GateCounters", "Identity", "Liveness", "PolicyConfig", "PolicyConfigError", "Verdict",
           "decide", "in_schedule", "load_policy_config", "parse_schedule"]
