"""What one batch's transaction did, for the worker to acknowledge and count after the commit."""

from __future__ import annotations

from dataclasses import dataclass, field

from server.ingest.validate import Rejected


@dataclass
class BatchOutcome:
    acks: dict[str, tuple[str, int]] = field(default_factory=dict)  # gate → (site, acked_seq)
    inserted: int = 0
    duplicates: int = 0
    alerts: int = 0
    health: int = 0
    seq_reuse: int = 0
    rejected: list[Rejected] = field(default_factory=list)
    rematch: list[int] = field(default_factory=list)  # new entry ids with an unknown face

    def touch_ack(self, gate_id: str, site_id: str) -> None:
        """This gate gets a ctl/ack after the commit (its current acked_seq, advanced or not)."""
        self.acks.setdefault(gate_id, (site_id, 0))
