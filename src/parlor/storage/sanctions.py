"""Queries for sanctions: a person's history, whether they are sanctioned now, lifting.

"In force" is one expression (`in_force`), used both to answer an admin and inside
the session lookup (storage/accounts.py), so that no request of a suspended or banned
person is served even if a session of theirs slipped past the revocation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from parlor.storage.tables import invites, sanctions, users

RESTRICTING = ("suspend", "ban")


@dataclass(frozen=True)
class Sanction:
    id: int
    user_id: str
    kind: str
    reason: str
    actor_id: str | None
    actor_username: str | None
    actor_display_name: str | None
    by_operator: bool
    created_at: float
    until: float | None
    ended_at: float | None


def in_force(user_id: Any, now: float) -> sa.Exists:
    """A suspension or ban of `user_id` (a value or a column) in force at `now`."""
    return sa.exists().where(
        sanctions.c.user_id == user_id,
        sanctions.c.kind.in_(RESTRICTING),
        sanctions.c.ended_at.is_(None),
        sa.or_(sanctions.c.until.is_(None), sanctions.c.until > now),
    )


def _query() -> sa.Select[Any]:
    actor = users.alias("actor")
    return sa.select(
        sanctions, actor.c.username.label("actor_username"), actor.c.display_name.label("actor_display_name")
    ).select_from(sanctions.outerjoin(actor, actor.c.id == sanctions.c.actor_id))


def _sanction(row: Any) -> Sanction:
    return Sanction(
        id=int(row.id),
        user_id=row.user_id,
        kind=row.kind,
        reason=row.reason,
        actor_id=row.actor_id,
        actor_username=row.actor_username,
        actor_display_name=row.actor_display_name,
        by_operator=bool(row.by_operator),
        created_at=float(row.created_at),
        until=None if row.until is None else float(row.until),
        ended_at=None if row.ended_at is None else float(row.ended_at),
    )


async def current(conn: AsyncConnection, user_id: str, now: float) -> Sanction | None:
    """The suspension or ban in force (a ban before a suspension), or None."""
    query = (
        _query()
        .where(
            sanctions.c.user_id == user_id,
            sanctions.c.kind.in_(RESTRICTING),
            sanctions.c.ended_at.is_(None),
            sa.or_(sanctions.c.until.is_(None), sanctions.c.until > now),
        )
        .order_by(sanctions.c.until.is_(None).desc(), sanctions.c.id.desc())
        .limit(1)
    )
    row = (await conn.execute(query)).first()
    return _sanction(row) if row else None


async def history(conn: AsyncConnection, user_id: str, limit: int) -> list[Sanction]:
    """A person's sanctions, newest first."""
    query = _query().where(sanctions.c.user_id == user_id).order_by(sanctions.c.id.desc()).limit(limit)
    return [_sanction(row) for row in await conn.execute(query)]


async def insert(
    conn: AsyncConnection,
    *,
    user_id: str,
    kind: str,
    reason: str,
    actor_id: str | None,
    by_operator: bool,
    now: float,
    until: float | None = None,
) -> int:
    statement = (
        sanctions.insert()
        .values(
            user_id=user_id,
            kind=kind,
            reason=reason,
            actor_id=actor_id,
            by_operator=by_operator,
            created_at=now,
            until=until,
        )
        .returning(sanctions.c.id)
    )
    return int((await conn.execute(statement)).scalar_one())


async def end_in_force(conn: AsyncConnection, user_id: str, now: float) -> int:
    """End every suspension or ban of the user in force (lifted, or replaced by a newer one)."""
    result = await conn.execute(
        sanctions.update()
        .where(
            sanctions.c.user_id == user_id,
            sanctions.c.kind.in_(RESTRICTING),
            sanctions.c.ended_at.is_(None),
            sa.or_(sanctions.c.until.is_(None), sanctions.c.until > now),
        )
        .values(ended_at=now)
    )
    return int(result.rowcount)


async def revoke_unused_invites(conn: AsyncConnection, user_id: str, now: float) -> int:
    """A suspended or banned member's invite codes stop working (let-ins already made stay)."""
    result = await conn.execute(
        invites.update()
        .where(
            invites.c.created_by == user_id,
            invites.c.used_by.is_(None),
            invites.c.revoked_at.is_(None),
            invites.c.via.is_(None),
        )
        .values(revoked_at=now)
    )
    return int(result.rowcount)


async def restricting_since(conn: AsyncConnection, after_id: int) -> list[tuple[int, str]]:
    """(id, user id) of suspensions and bans recorded after `after_id`, oldest first."""
    rows = await conn.execute(
        sa.select(sanctions.c.id, sanctions.c.user_id)
        .where(sanctions.c.id > after_id, sanctions.c.kind.in_(RESTRICTING))
        .order_by(sanctions.c.id)
    )
    return [(int(row.id), str(row.user_id)) for row in rows]


async def last_id(conn: AsyncConnection) -> int:
    return int((await conn.execute(sa.select(sa.func.coalesce(sa.func.max(sanctions.c.id), 0)))).scalar_one())
