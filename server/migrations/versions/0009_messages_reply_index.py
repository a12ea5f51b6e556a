"""messages: a partial index of the replies, for deleting or hiding a message

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 11:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

REPLIES = sa.text("reply_to_id IS NOT NULL")


def upgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.create_index(
            "ix_messages_reply_to_id",
            ["reply_to_id"],
            unique=False,
            sqlite_where=REPLIES,
            postgresql_where=REPLIES,
        )


def downgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_index("ix_messages_reply_to_id")
