"""Follows, user blocks, and prefix-search indexes on users.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "follows",
        sa.Column("follower_id", sa.String(32), sa.ForeignKey("users.id"), primary_key=True),
        sa.Column("followee_id", sa.String(32), sa.ForeignKey("users.id"), primary_key=True),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.create_index("ix_follows_followee", "follows", ["followee_id", "created_at", "follower_id"])
    op.create_index("ix_follows_follower", "follows", ["follower_id", "created_at", "followee_id"])
    op.create_table(
        "user_blocks",
        sa.Column("blocker_id", sa.String(32), sa.ForeignKey("users.id"), primary_key=True),
        sa.Column("blocked_id", sa.String(32), sa.ForeignKey("users.id"), primary_key=True),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.create_index("ix_user_blocks_blocked", "user_blocks", ["blocked_id", "blocker_id"])
    # Prefix search is an index range in byte (code point) order. SQLite compares
    # text with BINARY by default, so the unique index on username already serves;
    # PostgreSQL's default collation may not be byte order (en_US ignores "_").
    if op.get_bind().dialect.name == "postgresql":
        op.execute('CREATE INDEX ix_users_username_c ON users (username COLLATE "C")')
        op.execute(
            'CREATE INDEX ix_users_display_lower ON users ((lower(display_name)) COLLATE "C", username COLLATE "C")'
        )
    else:
        op.execute("CREATE INDEX ix_users_display_lower ON users (lower(display_name), username)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX ix_users_username_c")
    op.execute("DROP INDEX ix_users_display_lower")
    op.drop_table("user_blocks")
    op.drop_table("follows")
