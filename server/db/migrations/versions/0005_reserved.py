"""residents: weekly access schedule carried to the gates

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06 04:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # {"mon": [["08:00", "18:00"]], ...} in the compound's time zone; null = no schedule (any time)
    op.add_column("residents", sa.Column("schedule", sa.JSON(), nullable=True))


def downgrade() -> None:
    op.drop_column("residents", "schedule")
