"""Clubs: clubs, their members and followers, requests/nominations/invitations, their
avatars; and people's interests (topics).

Revision ID: 0012
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "clubs",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("name", sa.String(50), nullable=False),
        sa.Column("name_key", sa.String(200), nullable=False, unique=True),
        sa.Column("description", sa.String(500), nullable=False),
        sa.Column("rules", sa.String(1000), nullable=False),
        sa.Column("topics", sa.String(120), nullable=False),
        sa.Column("mode", sa.String(10), nullable=False),
        sa.Column("created_by", sa.String(32), sa.ForeignKey("users.id"), nullable=True),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("archived_at", sa.Float, nullable=True),
    )
    op.create_table(
        "club_members",
        sa.Column("club_id", sa.String(32), sa.ForeignKey("clubs.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("user_id", sa.String(32), sa.ForeignKey("users.id"), primary_key=True),
        sa.Column("role", sa.String(10), nullable=False),
        sa.Column("since", sa.Float, nullable=False),
    )
    op.create_index("ix_club_members_user", "club_members", ["user_id", "club_id"])
    op.create_index("ix_club_members_role", "club_members", ["club_id", "role", "since"])
    op.create_table(
        "club_requests",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("club_id", sa.String(32), sa.ForeignKey("clubs.id", ondelete="CASCADE"), nullable=False),
        sa.Column("user_id", sa.String(32), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("kind", sa.String(12), nullable=False),
        sa.Column("by_id", sa.String(32), sa.ForeignKey("users.id"), nullable=True),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.UniqueConstraint("club_id", "user_id", name="uq_club_requests_person"),
    )
    op.create_index("ix_club_requests_user", "club_requests", ["user_id", "created_at"])
    op.create_table(
        "club_avatars",
        sa.Column("club_id", sa.String(32), sa.ForeignKey("clubs.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("image", sa.LargeBinary, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.create_table(
        "interests",
        sa.Column("user_id", sa.String(32), sa.ForeignKey("users.id"), primary_key=True),
        sa.Column("topic", sa.String(32), primary_key=True),
    )


def downgrade() -> None:
    op.drop_table("interests")
    op.drop_table("club_avatars")
    op.drop_index("ix_club_requests_user", "club_requests")
    op.drop_table("club_requests")
    op.drop_index("ix_club_members_role", "club_members")
    op.drop_index("ix_club_members_user", "club_members")
    op.drop_table("club_members")
    op.drop_table("clubs")
