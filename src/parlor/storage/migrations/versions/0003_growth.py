"""Growth: invite quotas, waitlist, instance sign-up mode.

Revision ID: 0003
Revises: 0002
"""

import secrets

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # invites get an id the API can show (never the code's hash) and `via` for let-ins.
    # `id` stays nullable (SQLite cannot add a NOT NULL column in place); the code always sets it.
    op.add_column("invites", sa.Column("id", sa.String(32), nullable=True))
    op.add_column("invites", sa.Column("via", sa.String(10), nullable=True))
    bind = op.get_bind()
    invites = sa.table("invites", sa.column("code_hash", sa.String), sa.column("id", sa.String))
    for (code_hash,) in bind.execute(sa.select(invites.c.code_hash)).all():
        invite_id = f"i_{secrets.token_urlsafe(12)}"
        bind.execute(invites.update().where(invites.c.code_hash == code_hash).values(id=invite_id))
    op.create_index("ix_invites_id", "invites", ["id"], unique=True)
    op.create_index("ix_invites_created_by", "invites", ["created_by", "created_at"])
    op.create_table(
        "waitlist",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("username", sa.String(30), nullable=False, unique=True),
        sa.Column("display_name", sa.String(50), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("admitted_by", sa.String(32), sa.ForeignKey("users.id"), nullable=True),
        sa.Column("admitted_at", sa.Float, nullable=True),
        sa.Column("via", sa.String(10), nullable=True),
    )
    op.create_index("ix_waitlist_admitted_by", "waitlist", ["admitted_by"])
    op.create_index("ix_waitlist_created", "waitlist", ["created_at", "id"])


def downgrade() -> None:
    op.drop_table("waitlist")
    op.drop_index("ix_invites_created_by", "invites")
    op.drop_index("ix_invites_id", "invites")
    op.drop_column("invites", "via")
    op.drop_column("invites", "id")
