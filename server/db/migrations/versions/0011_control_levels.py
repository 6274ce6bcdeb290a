"""sites: the compound's control level (normal / heightened / lockdown), when and by whom it was set

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 13:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # plain ADD COLUMN, not a batch copy: on SQLite a batch rebuild of `sites` drops the old table,
    # and its ON DELETE CASCADE children (residents, their photos) would go with it
    op.add_column("sites", sa.Column("control_level", sa.String(length=32), sa.CheckConstraint(
        "control_level IN ('normal', 'heightened', 'lockdown')", name="ck_sites_control_level"),
        nullable=False, server_default="normal"))
    op.add_column("sites", sa.Column("control_level_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("sites", sa.Column("control_level_by", sa.String(length=128), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sites") as batch_op:
        batch_op.drop_constraint(op.f("ck_sites_control_level"), type_="check")
        batch_op.drop_column("control_level_by")
        batch_op.drop_column("control_level_at")
        batch_op.drop_column("control_level")
