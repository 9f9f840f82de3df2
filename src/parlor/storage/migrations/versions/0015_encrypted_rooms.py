"""End-to-end encrypted rooms (docs/E2EE.md): a room is encrypted for its whole life;
a reported chat line of such a room is kept as its ciphertext, longer than a plain line
(domain/chat.py ENCRYPTED_MESSAGE_MAX).

SQLite neither enforces a VARCHAR's length nor needs the column changed; it drops a
column in place (3.35+), without the copy of the table a batch operation would make
(dropping the old table under `foreign_keys=ON` would touch the rows that refer to it).

Revision ID: 0015
Revises: 0014
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def _postgresql() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def upgrade() -> None:
    op.add_column("rooms", sa.Column("encrypted", sa.Boolean, nullable=False, server_default=sa.false()))
    if _postgresql():
        op.alter_column("reports", "message_text", type_=sa.String(3000), existing_type=sa.String(500))


def downgrade() -> None:
    # A reported encrypted line is longer than the old column holds: cut (it is ciphertext).
    op.execute(sa.text("UPDATE reports SET message_text = substr(message_text, 1, 500)"))
    if _postgresql():
        op.alter_column("reports", "message_text", type_=sa.String(500), existing_type=sa.String(3000))
    op.execute(sa.text("ALTER TABLE rooms DROP COLUMN encrypted"))
