"""The schema, as SQLAlchemy Core tables. Alembic migrations create it."""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

users = sa.Table(
    "users",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    # Stored lower-cased: usernames are case-insensitive.
    sa.Column("username", sa.String(30), nullable=False, unique=True),
    sa.Column("display_name", sa.String(50), nullable=False),
    # argon2id, in PHC string format; never the password.
    sa.Column("password_hash", sa.String(200), nullable=False),
    sa.Column("is_admin", sa.Boolean, nullable=False, default=False),
    sa.Column("invited_by", sa.String(32), sa.ForeignKey("users.id"), nullable=True),
    sa.Column("created_at", sa.Float, nullable=False),
)

# Browser sessions and bearer tokens: only a SHA-256 of the secret is stored.
sessions = sa.Table(
    "sessions",
    metadata,
    sa.Column("secret_hash", sa.String(64), primary_key=True),
    sa.Column("user_id", sa.String(32), sa.ForeignKey("users.id"), nullable=False, index=True),
    sa.Column("kind", sa.String(10), nullable=False),  # "cookie" | "bearer"
    sa.Column("name", sa.String(60), nullable=True),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("expires_at", sa.Float, nullable=True),
)

invites = sa.Table(
    "invites",
    metadata,
    sa.Column("code_hash", sa.String(64), primary_key=True),
    sa.Column("created_by", sa.String(32), sa.ForeignKey("users.id"), nullable=True),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("used_by", sa.String(32), sa.ForeignKey("users.id"), nullable=True),
    sa.Column("used_at", sa.Float, nullable=True),
    sa.Column("revoked_at", sa.Float, nullable=True),
)

# Instance-wide facts, e.g. the hash of the one-time setup token.
instance = sa.Table(
    "instance",
    metadata,
    sa.Column("key", sa.String(40), primary_key=True),
    sa.Column("value", sa.String(200), nullable=False),
)

rooms = sa.Table(
    "rooms",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("title", sa.String(120), nullable=False),
    sa.Column("created_by", sa.String(32), sa.ForeignKey("users.id"), nullable=True),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("ended_at", sa.Float, nullable=True),
)

# "A user blocked by a moderator cannot join that moderator's rooms."
room_blocks = sa.Table(
    "room_blocks",
    metadata,
    sa.Column("moderator_id", sa.String(32), sa.ForeignKey("users.id"), primary_key=True),
    sa.Column("blocked_id", sa.String(32), sa.ForeignKey("users.id"), primary_key=True),
    sa.Column("created_at", sa.Float, nullable=False),
)

audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", sa.Float, nullable=False),
    sa.Column("actor_id", sa.String(32), nullable=True),
    sa.Column("room_id", sa.String(32), nullable=True, index=True),
    sa.Column("action", sa.String(40), nullable=False),
    sa.Column("target_id", sa.String(32), nullable=True),
)

# -- the social layer (migration 0002) ------------------------------------------------
# Besides these tables' indexes, 0002 adds prefix-search indexes on users:
# `username` and `(lower(display_name), username)`, in code point order (COLLATE "C" on PostgreSQL,
# SQLite's default BINARY), so that a prefix is one index range (storage/social.py).

follows = sa.Table(
    "follows",
    metadata,
    sa.Column("follower_id", sa.String(32), sa.ForeignKey("users.id"), primary_key=True),
    sa.Column("followee_id", sa.String(32), sa.ForeignKey("users.id"), primary_key=True),
    sa.Column("created_at", sa.Float, nullable=False),
    # followers of X, newest first, and follower counts
    sa.Index("ix_follows_followee", "followee_id", "created_at", "follower_id"),
    # whom X follows, newest first
    sa.Index("ix_follows_follower", "follower_id", "created_at", "followee_id"),
)

user_blocks = sa.Table(
    "user_blocks",
    metadata,
    sa.Column("blocker_id", sa.String(32), sa.ForeignKey("users.id"), primary_key=True),
    sa.Column("blocked_id", sa.String(32), sa.ForeignKey("users.id"), primary_key=True),
    sa.Column("created_at", sa.Float, nullable=False),
    # "who blocked me": search and joins check both directions
    sa.Index("ix_user_blocks_blocked", "blocked_id", "blocker_id"),
)

# -- growth: invite quotas, waitlist, sign-up mode (migration 0003) ---------------------

# -- profiles (migration 0004) ---------------------------------------------------------

# -- private contact matching (migration 0005) -----------------------------------------

# -- pings and notifications (migration 0006) ------------------------------------------
