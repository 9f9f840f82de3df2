"""Queries for a member's own sessions and tokens: list, touch, revoke one by its id."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from parlor.domain.sessions import Session
from parlor.storage.accounts import SESSION_COLUMNS, session_from_row
from parlor.storage.tables import sessions


def _unexpired(now: float) -> sa.ColumnElement[bool]:
    return sa.or_(sessions.c.expires_at.is_(None), sessions.c.expires_at > now)


async def list_of(
    conn: AsyncConnection, user_id: str, kind: str, now: float, current_hash: str | None
) -> list[tuple[Session, bool]]:
    """A user's unexpired sessions (or tokens), each with whether it is `current_hash`'s,
    most recently used first."""
    current = (sessions.c.secret_hash == (current_hash or "")).label("is_current")
    query = sa.select(*SESSION_COLUMNS, current).where(
        sessions.c.user_id == user_id, sessions.c.kind == kind, _unexpired(now)
    )
    rows = (await conn.execute(query)).all()
    found = [(session_from_row(row), bool(row.is_current)) for row in rows]
    found.sort(key=lambda pair: (pair[0].last_used_at or pair[0].created_at, pair[0].created_at), reverse=True)
    return found


async def delete_expired_of(conn: AsyncConnection, user_id: str, now: float) -> None:
    await conn.execute(
        sessions.delete().where(
            sessions.c.user_id == user_id, sessions.c.expires_at.is_not(None), sessions.c.expires_at <= now
        )
    )


async def delete_by_id(conn: AsyncConnection, user_id: str, session_id: str, kind: str) -> str | None:
    """Delete one of `user_id`'s sessions (or tokens) by its public id; returns its hash,
    or None when they have none by that id."""
    query = (
        sessions.delete()
        .where(sessions.c.id == session_id, sessions.c.user_id == user_id, sessions.c.kind == kind)
        .returning(sessions.c.secret_hash)
    )
    row = (await conn.execute(query)).first()
    return str(row.secret_hash) if row else None


async def touch(conn: AsyncConnection, secret_hash: str, now: float, client: str | None) -> None:
    values: dict[str, object] = {"last_used_at": now}
    if client:
        values["client"] = client
    await conn.execute(sessions.update().where(sessions.c.secret_hash == secret_hash).values(values))


async def alive(conn: AsyncConnection, secret_hash: str, now: float) -> bool:
    """Does this session or token still exist, unexpired?"""
    row = await conn.execute(sa.select(sessions.c.id).where(sessions.c.secret_hash == secret_hash, _unexpired(now)))
    return row.first() is not None
