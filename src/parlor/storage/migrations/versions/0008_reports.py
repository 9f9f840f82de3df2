"""Reports: the report queue, who was on stage, and the reporter's `report_handled` notification.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_OPEN = sa.text("state = 'open'")
_NO_FK_TABLES = {"resolve_fks": False}


def upgrade() -> None:
    op.create_table(
        "reports",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("reporter_id", sa.String(32), sa.ForeignKey("users.id"), nullable=True),
        sa.Column("target_kind", sa.String(10), nullable=False),
        sa.Column("target_id", sa.String(32), nullable=False),
        sa.Column("reported_user_id", sa.String(32), sa.ForeignKey("users.id"), nullable=True),
        sa.Column("room_id", sa.String(32), sa.ForeignKey("rooms.id"), nullable=True),
        sa.Column("reason", sa.String(20), nullable=False),
        sa.Column("note", sa.String(500), nullable=True),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("outcome", sa.String(10), nullable=True),
        sa.Column("handled_by", sa.String(32), sa.ForeignKey("users.id"), nullable=True),
        sa.Column("handled_at", sa.Float, nullable=True),
        sa.Column("resolution_note", sa.String(500), nullable=True),
        sa.Column("target_label", sa.String(200), nullable=False),
        sa.Column("profile_username", sa.String(30), nullable=True),
        sa.Column("profile_display_name", sa.String(50), nullable=True),
        sa.Column("profile_bio", sa.String(160), nullable=True),
        sa.Column("room_title", sa.String(120), nullable=True),
        sa.Column("room_kind", sa.String(10), nullable=True),
        sa.Column("room_live", sa.Boolean, nullable=True),
        sa.Column("audit_from_id", sa.Integer, nullable=True),
        sa.Column("audit_to_id", sa.Integer, nullable=True),
    )
    op.create_index("ix_reports_state_created", "reports", ["state", "created_at", "id"])
    op.create_index("ix_reports_state_handled", "reports", ["state", "handled_at", "id"])
    op.create_index("ix_reports_reported_user", "reports", ["reported_user_id", "created_at", "id"])
    op.create_index(
        "uq_reports_open_per_reporter",
        "reports",
        ["reporter_id", "target_kind", "target_id"],
        unique=True,
        sqlite_where=_OPEN,
        postgresql_where=_OPEN,
    )
    op.create_table(
        "report_stage",
        sa.Column("report_id", sa.String(32), sa.ForeignKey("reports.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("user_id", sa.String(32), sa.ForeignKey("users.id"), primary_key=True),
        sa.Column("username", sa.String(30), nullable=False),
        sa.Column("display_name", sa.String(50), nullable=False),
        sa.Column("role", sa.String(10), nullable=False),
    )
    # SQLite cannot add a foreign key to an existing table: batch mode copies the table
    # (without reflecting the tables it refers to, whose expression indexes it cannot read).
    with op.batch_alter_table("notifications", reflect_kwargs=_NO_FK_TABLES) as batch:
        batch.add_column(sa.Column("report_id", sa.String(32), nullable=True))
        batch.create_foreign_key("fk_notifications_report_id", "reports", ["report_id"], ["id"], ondelete="SET NULL")


def downgrade() -> None:
    with op.batch_alter_table("notifications", reflect_kwargs=_NO_FK_TABLES) as batch:
        batch.drop_constraint("fk_notifications_report_id", type_="foreignkey")
        batch.drop_column("report_id")
    op.drop_table("report_stage")
    for name in (
        "uq_reports_open_per_reporter",
        "ix_reports_reported_user",
        "ix_reports_state_handled",
        "ix_reports_state_created",
    ):
        op.drop_index(name, "reports")
    op.drop_table("reports")
