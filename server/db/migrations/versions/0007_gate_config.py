"""gates: who set the desired config and when, and the error the gate reported for it;
gate_commands: the expiry a command was sent with; alerts: kind `outbox_full`, and the gate flag
that raises it once per episode

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07 03:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

KINDS = ("unknown_person", "fever", "status_forbids", "double_entry", "gate_offline")


def _kinds_check(kinds: tuple[str, ...]) -> str:
    return "kind IN (" + ", ".join(f"'{k}'" for k in kinds) + ")"


def upgrade() -> None:
    with op.batch_alter_table("gates") as batch_op:
        batch_op.add_column(sa.Column("desired_config_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("desired_config_by", sa.String(length=128), nullable=True))
        batch_op.add_column(sa.Column("config_error", sa.String(length=300), nullable=True))
        batch_op.add_column(sa.Column("outbox_alarm", sa.Boolean(), nullable=False, server_default=sa.false()))
    with op.batch_alter_table("gate_commands") as batch_op:
        batch_op.add_column(sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))
    # the kinds are VARCHAR + CHECK (models._enum): a new kind is a new constraint
    with op.batch_alter_table("alerts") as batch_op:
        batch_op.drop_constraint(op.f("ck_alerts_alert_kind"), type_="check")
        batch_op.create_check_constraint("alert_kind", _kinds_check((*KINDS, "outbox_full")))


def downgrade() -> None:
    op.execute("DELETE FROM alerts WHERE kind = 'outbox_full'")
    with op.batch_alter_table("alerts") as batch_op:
        batch_op.drop_constraint(op.f("ck_alerts_alert_kind"), type_="check")
        batch_op.create_check_constraint("alert_kind", _kinds_check(KINDS))
    with op.batch_alter_table("gate_commands") as batch_op:
        batch_op.drop_column("expires_at")
    with op.batch_alter_table("gates") as batch_op:
        batch_op.drop_column("outbox_alarm")
        batch_op.drop_column("config_error")
        batch_op.drop_column("desired_config_by")
        batch_op.drop_column("desired_config_at")
