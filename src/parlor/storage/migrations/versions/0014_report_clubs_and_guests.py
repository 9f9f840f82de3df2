"""Reports on clubs (the club's name and description as reported) and reports by guests
(who are kept only as "a guest": no id, no name).

Revision ID: 0014
Revises: 0013
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("reports", sa.Column("club_name", sa.String(50), nullable=True))
    op.add_column("reports", sa.Column("club_description", sa.String(500), nullable=True))
    op.add_column("reports", sa.Column("by_guest", sa.Boolean, nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("reports") as batch:
        batch.drop_column("by_guest")
        batch.drop_column("club_description")
        batch.drop_column("club_name")
