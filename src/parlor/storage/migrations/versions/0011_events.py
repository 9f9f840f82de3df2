"""Events: scheduled rooms, co-hosts, "notify me", reminders sent, calendar feeds.

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

_NO_FK_TABLES = {"resolve_fks": False}


def upgrade() -> None:
    op.create_table(
        "events",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("host_id", sa.String(32), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("club_id", sa.String(32), nullable=True),
        sa.Column("title", sa.String(120), nullable=False),
        sa.Column("description", sa.String(1000), nullable=False),
        sa.Column("starts_at", sa.Float, nullable=False),
        sa.Column("ends_at", sa.Float, nullable=True),
        sa.Column("time_zone", sa.String(64), nullable=True),
        sa.Column("topics", sa.String(120), nullable=False),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("room_id", sa.String(32), sa.ForeignKey("rooms.id"), nullable=True),
        sa.Column("reminders_done", sa.String(20), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
        sa.Column("sequence", sa.Integer, nullable=False),
    )
    op.create_index("ix_events_state_starts", "events", ["state", "starts_at"])
    op.create_index("ix_events_host", "events", ["host_id", "starts_at"])
    op.create_index("ix_events_club", "events", ["club_id", "starts_at"])
    op.create_table(
        "event_cohosts",
        sa.Column("event_id", sa.String(32), sa.ForeignKey("events.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("user_id", sa.String(32), sa.ForeignKey("users.id"), primary_key=True),
        sa.Column("position", sa.Integer, nullable=False),
    )
    op.create_index("ix_event_cohosts_user", "event_cohosts", ["user_id"])
    op.create_table(
        "event_subscriptions",
        sa.Column("event_id", sa.String(32), sa.ForeignKey("events.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("user_id", sa.String(32), sa.ForeignKey("users.id"), primary_key=True),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.create_index("ix_event_subscriptions_user", "event_subscriptions", ["user_id"])
    op.create_table(
        "event_reminders",
        sa.Column("event_id", sa.String(32), sa.ForeignKey("events.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("user_id", sa.String(32), sa.ForeignKey("users.id"), primary_key=True),
        sa.Column("kind", sa.String(10), primary_key=True),
        sa.Column("sent_at", sa.Float, nullable=False),
        sa.Column("late", sa.Boolean, nullable=False),
    )
    op.create_index("ix_event_reminders_user", "event_reminders", ["user_id"])
    op.create_table(
        "calendar_feeds",
        sa.Column("user_id", sa.String(32), sa.ForeignKey("users.id"), primary_key=True),
        sa.Column("secret_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    # SQLite cannot add a foreign key to an existing table: batch mode copies it (as in 0008).
    with op.batch_alter_table("notifications", reflect_kwargs=_NO_FK_TABLES) as batch:
        batch.add_column(sa.Column("event_id", sa.String(32), nullable=True))
        batch.create_foreign_key("fk_notifications_event_id", "events", ["event_id"], ["id"], ondelete="CASCADE")


def downgrade() -> None:
    with op.batch_alter_table("notifications", reflect_kwargs=_NO_FK_TABLES) as batch:
        batch.drop_constraint("fk_notifications_event_id", type_="foreignkey")
        batch.drop_column("event_id")
    op.drop_table("calendar_feeds")
    op.drop_index("ix_event_reminders_user", "event_reminders")
    op.drop_table("event_reminders")
    op.drop_index("ix_event_subscriptions_user", "event_subscriptions")
    op.drop_table("event_subscriptions")
    op.drop_index("ix_event_cohosts_user", "event_cohosts")
    op.drop_table("event_cohosts")
    op.drop_index("ix_events_club", "events")
    op.drop_index("ix_events_host", "events")
    op.drop_index("ix_events_state_starts", "events")
    op.drop_table("events")
