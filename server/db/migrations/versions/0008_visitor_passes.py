"""visitor_passes: passes the server signed, for listing and revocation

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 04:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "visitor_passes",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("site_id", sa.String(length=64), nullable=False),
        sa.Column("host_resident_id", sa.String(length=64), nullable=False),
        sa.Column("gates", sa.JSON(), nullable=False),
        sa.Column("valid_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("valid_until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("note", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=128), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_by", sa.String(length=128), nullable=True),
        sa.ForeignKeyConstraint(["host_resident_id"], ["residents.id"],
                                name=op.f("fk_visitor_passes_host_resident_id_residents"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], name=op.f("fk_visitor_passes_site_id_sites"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_visitor_passes")),
    )
    with op.batch_alter_table("visitor_passes") as batch_op:
        batch_op.create_index(batch_op.f("ix_visitor_passes_site_id"), ["site_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_visitor_passes_host_resident_id"), ["host_resident_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_visitor_passes_valid_until"), ["valid_until"], unique=False)


def downgrade() -> None:
    op.drop_table("visitor_passes")
