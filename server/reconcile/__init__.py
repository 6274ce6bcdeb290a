"""Reconciliation of entries with the registry.

``inline`` runs inside the ingest transaction (entry → resident → household → unit, alerts);
``rematch`` names unknown faces against the whole district's registry, asynchronously after the
commit because it needs face inference, which must stay off the ingest hot path.
"""

from server.reconcile.inline import ReconcileContext, Reconciled, reconcile_batch
from server.reconcile.rules import ResidentView, status_violation

__all__ = ["Reconciled", "ReconcileContext", "ResidentView", "reconcile_batch", "status_violation"]
