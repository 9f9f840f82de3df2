"""Queries for users, sessions, invites and instance facts."""

from __future__ import annotations

import secrets
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from parlor.domain.sessions import Session
from parlor.domain.users import User
from parlor.storage.db import insert_ignore
from parlor.storage.sanctions import in_force
from parlor.storage.tables import instance, invites, sessions, users

_USER_COLUMNS = (users.c.id, users.c.username, users.c.display_name, users.c.is_admin, users.c.created_at)
# Labelled: they are selected beside the user's columns.
SESSION_COLUMNS = (
    sessions.c.id.label("session_id"),
    sessions.c.user_id.label("session_user_id"),
    sessions.c.kind.label("session_kind"),
    sessions.c.name.label("session_name"),
    sessions.c.client.label("session_client"),
    sessions.c.created_at.label("session_created_at"),
    sessions.c.last_used_at.label("session_last_used_at"),
    sessions.c.expires_at.label("session_expires_at"),
)


def _user(row: Any) -> User:
    return User(row.id, row.username, row.display_name, bool(row.is_admin), row.created_at)


def session_from_row(row: Any) -> Session:
    """A Session from a row selected with SESSION_COLUMNS."""
    return Session(
        id=row.session_id or "",
        user_id=row.session_user_id,
        kind=row.session_kind,
        name=row.session_name,
        client=row.session_client,
        created_at=row.session_created_at,
        last_used_at=row.session_last_used_at,
        expires_at=row.session_expires_at,
    )


async def insert_user(
    conn: AsyncConnection,
    *,
    user_id: str,
    username: str,
    display_name: str,
    password_hash: str,
    is_admin: bool,
    invited_by: str | None,
    now: float,
) -> User:
    await conn.execute(
        users.insert().values(
            id=user_id,
            username=username,
            display_name=display_name,
            password_hash=password_hash,
            is_admin=is_admin,
            invited_by=invited_by,
            created_at=now,
        )
    )
    return User(user_id, username, display_name, is_admin, now)


async def username_taken(conn: AsyncConnection, username: str) -> bool:
    row = await conn.execute(sa.select(users.c.id).where(users.c.username == username))
    return row.first() is not None


async def user_by_id(conn: AsyncConnection, user_id: str) -> User | None:
    row = (await conn.execute(sa.select(*_USER_COLUMNS).where(users.c.id == user_id))).first()
    return _user(row) if row else None


async def users_by_ids(conn: AsyncConnection, user_ids: list[str]) -> dict[str, User]:
    if not user_ids:
        return {}
    rows = await conn.execute(sa.select(*_USER_COLUMNS).where(users.c.id.in_(user_ids)))
    return {row.id: _user(row) for row in rows}


async def credentials(conn: AsyncConnection, username: str) -> tuple[User, str] | None:
    row = (
        await conn.execute(
            sa.select(*_USER_COLUMNS, users.c.password_hash).where(users.c.username == username)
        )
    ).first()
    return (_user(row), row.password_hash) if row else None


async def password_hash_of(conn: AsyncConnection, user_id: str) -> str | None:
    row = (await conn.execute(sa.select(users.c.password_hash).where(users.c.id == user_id))).first()
    return str(row.password_hash) if row else None


async def set_password_hash(conn: AsyncConnection, user_id: str, password_hash: str) -> None:
    await conn.execute(users.update().where(users.c.id == user_id).values(password_hash=password_hash))


async def set_invited_by(conn: AsyncConnection, user_id: str, inviter_id: str) -> None:
    await conn.execute(users.update().where(users.c.id == user_id).values(invited_by=inviter_id))


async def admin_exists(conn: AsyncConnection) -> bool:
    row = await conn.execute(sa.select(users.c.id).where(users.c.is_admin.is_(True)).limit(1))
    return row.first() is not None


# -- sessions and bearer tokens ---------------------------------------------


async def insert_session(
    conn: AsyncConnection,
    *,
    secret_hash: str,
    session_id: str,
    user_id: str,
    kind: str,
    name: str | None,
    now: float,
    expires_at: float | None,
    client: str | None = None,
    last_used_at: float | None = None,
) -> None:
    await conn.execute(
        sessions.insert().values(
            secret_hash=secret_hash,
            id=session_id,
            user_id=user_id,
            kind=kind,
            name=name,
            created_at=now,
            expires_at=expires_at,
            client=client,
            last_used_at=last_used_at,
        )
    )


async def session_for(conn: AsyncConnection, secret_hash: str, kind: str, now: float) -> tuple[User, Session] | None:
    """The user and the (unexpired) session or token a secret stands for."""
    query = (
        sa.select(*_USER_COLUMNS, *SESSION_COLUMNS)
        .join(sessions, sessions.c.user_id == users.c.id)
        .where(sessions.c.secret_hash == secret_hash, sessions.c.kind == kind)
        .where(sa.or_(sessions.c.expires_at.is_(None), sessions.c.expires_at > now))
        # Suspended or banned: their sessions are deleted, and one that slipped past
        # (a sign-in racing the suspension) does not count either.
        .where(~in_force(users.c.id, now))
    )
    row = (await conn.execute(query)).first()
    return (_user(row), session_from_row(row)) if row else None


async def delete_session(conn: AsyncConnection, secret_hash: str) -> str | None:
    """Delete one session or token; returns whose it was."""
    query = sessions.delete().where(sessions.c.secret_hash == secret_hash).returning(sessions.c.user_id)
    row = await conn.execute(query)
    found = row.first()
    return str(found.user_id) if found else None


async def delete_sessions_of(
    conn: AsyncConnection, user_id: str, *, keep_hash: str | None = None, kind: str | None = None
) -> list[str]:
    """Delete every session and token of a user (only those of `kind`, if given) but
    `keep_hash`; returns the deleted hashes."""
    query = sessions.delete().where(sessions.c.user_id == user_id)
    if keep_hash is not None:
        query = query.where(sessions.c.secret_hash != keep_hash)
    if kind is not None:
        query = query.where(sessions.c.kind == kind)
    rows = await conn.execute(query.returning(sessions.c.secret_hash))
    return [str(r.secret_hash) for r in rows]


# -- invites -------------------------------------------------------------------


async def insert_invite(
    conn: AsyncConnection,
    code_hash: str,
    created_by: str | None,
    now: float,
    *,
    invite_id: str | None = None,
    via: str | None = None,
) -> str:
    """Store an invite (only its code's hash); returns its id."""
    invite_id = invite_id or f"i_{secrets.token_urlsafe(12)}"
    await conn.execute(
        invites.insert().values(id=invite_id, code_hash=code_hash, created_by=created_by, created_at=now, via=via)
    )
    return invite_id


async def claim_invite(conn: AsyncConnection, code_hash: str, user_id: str, now: float) -> str | None:
    """Mark an unused, unrevoked invite used; return who made it, or None if not claimable.

    One conditional UPDATE, so two sign-ups racing for one code can't both win.
    """
    row = (
        await conn.execute(
            sa.select(invites.c.created_by).where(
                invites.c.code_hash == code_hash,
                invites.c.used_by.is_(None),
                invites.c.revoked_at.is_(None),
            )
        )
    ).first()
    if row is None:
        return None
    result = await conn.execute(
        invites.update()
        .where(
            invites.c.code_hash == code_hash,
            invites.c.used_by.is_(None),
            invites.c.revoked_at.is_(None),
        )
        .values(used_by=user_id, used_at=now)
    )
    return (row.created_by or "") if result.rowcount == 1 else None


async def invite_claimable(conn: AsyncConnection, code_hash: str) -> bool:
    row = await conn.execute(
        sa.select(invites.c.code_hash).where(
            invites.c.code_hash == code_hash,
            invites.c.used_by.is_(None),
            invites.c.revoked_at.is_(None),
        )
    )
    return row.first() is not None


# -- instance facts ------------------------------------------------------------


async def get_fact(conn: AsyncConnection, key: str) -> str | None:
    row = (await conn.execute(sa.select(instance.c.value).where(instance.c.key == key))).first()
    return row.value if row else None


async def fact_or(conn: AsyncConnection, key: str, fresh: str) -> str:
    """The fact under `key`, made `fresh` the first time (race-free: the first writer wins)."""
    await conn.execute(insert_ignore(conn, instance, key=key, value=fresh))
    return str((await conn.execute(sa.select(instance.c.value).where(instance.c.key == key))).scalar_one())


async def set_fact(conn: AsyncConnection, key: str, value: str) -> None:
    await conn.execute(instance.delete().where(instance.c.key == key))
    await conn.execute(instance.insert().values(key=key, value=value))


async def delete_fact(conn: AsyncConnection, key: str) -> bool:
    result = await conn.execute(instance.delete().where(instance.c.key == key))
    return result.rowcount == 1
