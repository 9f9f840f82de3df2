"""Account safety: sessions and tokens get a public id, last use and a client label;
the sign-in history.

Revision ID: 0007
Revises: 0006
"""

import secrets

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable: SQLite cannot add a NOT NULL column in place; the code always sets them.
    op.add_column("sessions", sa.Column("id", sa.String(32), nullable=True))
    op.add_column("sessions", sa.Column("last_used_at", sa.Float, nullable=True))
    op.add_column("sessions", sa.Column("client", sa.String(40), nullable=True))
    bind = op.get_bind()
    sessions = sa.table("sessions", sa.column("secret_hash", sa.String), sa.column("id", sa.String))
    for (secret_hash,) in bind.execute(sa.select(sessions.c.secret_hash)).all():
        session_id = f"s_{secrets.token_urlsafe(12)}"
        bind.execute(sessions.update().where(sessions.c.secret_hash == secret_hash).values(id=session_id))
    op.create_index("ix_sessions_id", "sessions", ["id"], unique=True)
    op.create_table(
        "sign_ins",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("user_id", sa.String(32), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("at", sa.Float, nullable=False),
        sa.Column("client", sa.String(40), nullable=True),
        sa.Column("result", sa.String(40), nullable=False),
        sa.Column("count", sa.Integer, nullable=False),
    )
    op.create_index("ix_sign_ins_user", "sign_ins", ["user_id", "at"])
    op.create_index("ix_sign_ins_at", "sign_ins", ["at"])


def downgrade() -> None:
    op.drop_index("ix_sign_ins_at", "sign_ins")
    op.drop_index("ix_sign_ins_user", "sign_ins")
    op.drop_table("sign_ins")
    op.drop_index("ix_sessions_id", "sessions")
    op.drop_column("sessions", "client")
    op.drop_column("sessions", "last_used_at")
    op.drop_column("sessions", "id")
