"""face_photos: variant ('plain' | 'masked'; existing rows are plain) and parent_id, the plain
photo a masked template was painted from (deleted with it); entries: mask, the gate's
person.mask (NULL: not known, as for every earlier entry)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 12:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("face_photos") as batch_op:
        batch_op.add_column(sa.Column("variant", sa.String(length=32), nullable=False, server_default="plain"))
        batch_op.add_column(sa.Column("parent_id", sa.Integer(), nullable=True))
        # VARCHAR + CHECK like every enum column (models._enum)
        batch_op.create_check_constraint("face_variant", "variant IN ('plain', 'masked')")
        batch_op.create_foreign_key(batch_op.f("fk_face_photos_parent_id_face_photos"), "face_photos",
                                    ["parent_id"], ["id"], ondelete="CASCADE")
        batch_op.create_index(batch_op.f("ix_face_photos_parent_id"), ["parent_id"], unique=False)
    with op.batch_alter_table("entries") as batch_op:
        batch_op.add_column(sa.Column("mask", sa.Boolean(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("entries") as batch_op:
        batch_op.drop_column("mask")
    op.execute("DELETE FROM face_photos WHERE variant = 'masked'")
    with op.batch_alter_table("face_photos") as batch_op:
        batch_op.drop_index(batch_op.f("ix_face_photos_parent_id"))
        batch_op.drop_constraint(batch_op.f("fk_face_photos_parent_id_face_photos"), type_="foreignkey")
        batch_op.drop_constraint(batch_op.f("ck_face_photos_face_variant"), type_="check")
        batch_op.drop_column("parent_id")
        batch_op.drop_column("variant")
