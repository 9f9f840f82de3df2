"""Sanctions (warn, suspend, ban, lift), the admin audit log, a notification's text,
and an index on the rooms someone hosted.

Revision ID: 0009
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sanctions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("user_id", sa.String(32), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("reason", sa.String(500), nullable=False),
        sa.Column("actor_id", sa.String(32), sa.ForeignKey("users.id"), nullable=True),
        sa.Column("by_operator", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("until", sa.Float, nullable=True),
        sa.Column("ended_at", sa.Float, nullable=True),
    )
    op.create_index("ix_sanctions_user", "sanctions", ["user_id", "id"])
    op.create_table(
        "admin_audit",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", sa.Float, nullable=False),
        sa.Column("actor_id", sa.String(32), nullable=True),
        sa.Column("by_operator", sa.Boolean, nullable=False),
        sa.Column("action", sa.String(40), nullable=False),
        sa.Column("target_id", sa.String(32), nullable=True),
        sa.Column("room_id", sa.String(32), nullable=True),
        sa.Column("detail", sa.String(500), nullable=True),
    )
    op.add_column("notifications", sa.Column("text", sa.String(500), nullable=True))
    op.create_index("ix_rooms_created_by", "rooms", ["created_by", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_rooms_created_by", "rooms")
    with op.batch_alter_table("notifications") as batch:
        batch.drop_column("text")
    op.drop_table("admin_audit")
    op.drop_index("ix_sanctions_user", "sanctions")
    op.drop_table("sanctions")
