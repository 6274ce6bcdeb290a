"""entries: the visitor pass an entry used (its id, the host the server knows it by, the gate's
refusal code); alerts: kinds door_alarm, local_open, pass_refused, pass_unknown

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 06:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

KINDS = ("unknown_person", "fever", "status_forbids", "double_entry", "gate_offline", "outbox_full")
NEW_KINDS = ("door_alarm", "local_open", "pass_refused", "pass_unknown")


def _kinds_check(kinds: tuple[str, ...]) -> str:
    return "kind IN (" + ", ".join(f"'{k}'" for k in kinds) + ")"


def upgrade() -> None:
    with op.batch_alter_table("entries") as batch_op:
        batch_op.add_column(sa.Column("visitor_pass_id", sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column("pass_host_resident_id", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("pass_refused", sa.String(length=32), nullable=True))
    # the kinds are VARCHAR + CHECK (models._enum): new kinds are a new constraint, as in 0007
    with op.batch_alter_table("alerts") as batch_op:
        batch_op.drop_constraint(op.f("ck_alerts_alert_kind"), type_="check")
        batch_op.create_check_constraint("alert_kind", _kinds_check((*KINDS, *NEW_KINDS)))


def downgrade() -> None:
    op.execute("DELETE FROM alerts WHERE kind IN (" + ", ".join(f"'{k}'" for k in NEW_KINDS) + ")")
    with op.batch_alter_table("alerts") as batch_op:
        batch_op.drop_constraint(op.f("ck_alerts_alert_kind"), type_="check")
        batch_op.create_check_constraint("alert_kind", _kinds_check(KINDS))
    with op.batch_alter_table("entries") as batch_op:
        batch_op.drop_column("pass_refused")
        batch_op.drop_column("pass_host_resident_id")
        batch_op.drop_column("visitor_pass_id")
