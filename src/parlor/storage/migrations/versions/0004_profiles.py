"""Profiles: bio, avatar; deleted accounts become 'a former member'.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass  # filled in by the profiles work


def downgrade() -> None:
    pass
