"""Private contact matching: keyed hashes of findable identifiers.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "contact_identifiers",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("user_id", sa.String(32), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=True),
        sa.Column("waitlist_id", sa.String(32), sa.ForeignKey("waitlist.id", ondelete="CASCADE"), nullable=True),
        sa.Column("kind", sa.String(5), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("bucket", sa.BigInteger, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.CheckConstraint("(user_id IS NULL) <> (waitlist_id IS NULL)", name="ck_contact_identifiers_owner"),
        sa.UniqueConstraint("user_id", "hash", name="uq_contact_identifiers_user"),
        sa.UniqueConstraint("waitlist_id", "hash", name="uq_contact_identifiers_waitlist"),
    )
    op.create_index("ix_contact_identifiers_bucket", "contact_identifiers", ["bucket"])


def downgrade() -> None:
    op.drop_index("ix_contact_identifiers_bucket", "contact_identifiers")
    op.drop_table("contact_identifiers")
    # The contact key goes with the hashes it made.
    op.execute("DELETE FROM instance WHERE key = 'contact_key'")
