"""Pings and notifications: the inbox and per-kind mutes.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "notifications",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("user_id", sa.String(32), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("actor_id", sa.String(32), sa.ForeignKey("users.id"), nullable=True),
        sa.Column("room_id", sa.String(32), sa.ForeignKey("rooms.id"), nullable=True),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("read_at", sa.Float, nullable=True),
    )
    op.create_index("ix_notifications_user", "notifications", ["user_id", "id"])
    op.create_index("ix_notifications_unread", "notifications", ["user_id", "read_at"])
    op.create_table(
        "notification_mutes",
        sa.Column("user_id", sa.String(32), sa.ForeignKey("users.id"), primary_key=True),
        sa.Column("kind", sa.String(20), primary_key=True),
    )


def downgrade() -> None:
    op.drop_table("notification_mutes")
    op.drop_index("ix_notifications_unread", "notifications")
    op.drop_index("ix_notifications_user", "notifications")
    op.drop_table("notifications")
