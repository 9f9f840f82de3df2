"""Club invitations in the inbox: a notification may name a club (kind `club_invite`).

Revision ID: 0016
Revises: 0015
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

_NO_FK_TABLES = {"resolve_fks": False}


def upgrade() -> None:
    # SQLite cannot add a foreign key to an existing table: batch mode copies it (as in
    # 0011; nothing refers to notifications, so the copy touches no other table).
    with op.batch_alter_table("notifications", reflect_kwargs=_NO_FK_TABLES) as batch:
        batch.add_column(sa.Column("club_id", sa.String(32), nullable=True))
        batch.create_foreign_key("fk_notifications_club_id", "clubs", ["club_id"], ["id"], ondelete="CASCADE")


def downgrade() -> None:
    op.execute(sa.text("DELETE FROM notifications WHERE kind = 'club_invite'"))
    with op.batch_alter_table("notifications", reflect_kwargs=_NO_FK_TABLES) as batch:
        batch.drop_constraint("fk_notifications_club_id", type_="foreignkey")
        batch.drop_column("club_id")
