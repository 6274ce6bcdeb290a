"""gates: who set the desired config and when, and the error the gate reported for it;
gate_commands: the expiry a command was sent with

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


def upgrade() -> None:
    with op.batch_alter_table("gates") as batch_op:
        batch_op.add_column(sa.Column("desired_config_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("desired_config_by", sa.String(length=128), nullable=True))
        batch_op.add_column(sa.Column("config_error", sa.String(length=300), nullable=True))
    with op.batch_alter_table("gate_commands") as batch_op:
        batch_op.add_column(sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("gate_commands") as batch_op:
        batch_op.drop_column("expires_at")
    with op.batch_alter_table("gates") as batch_op:
        batch_op.drop_column("config_error")
        batch_op.drop_column("desired_config_by")
        batch_op.drop_column("desired_config_at")
