"""Queries for the instance-wide admin audit log: record an admin action, page it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from parlor.storage.tables import admin_audit, rooms, users

DETAIL_MAX = 500


@dataclass(frozen=True)
class Entry:
    id: int
    at: float
    action: str
    actor_id: str | None
    by_operator: bool
    target_id: str | None
    room_id: str | None
    room_title: str | None
    detail: str | None


async def record(
    conn: AsyncConnection,
    *,
    now: float,
    actor_id: str | None,
    action: str,
    target_id: str | None = None,
    room_id: str | None = None,
    detail: str | None = None,
) -> None:
    """One admin action. `actor_id` None: the operator (the `parlor admin` CLI)."""
    await conn.execute(
        admin_audit.insert().values(
            at=now,
            actor_id=actor_id,
            by_operator=actor_id is None,
            action=action,
            target_id=target_id,
            room_id=room_id,
            detail=detail[:DETAIL_MAX] if detail else None,
        )
    )


async def last_id(conn: AsyncConnection) -> int:
    return int((await conn.execute(sa.select(sa.func.coalesce(sa.func.max(admin_audit.c.id), 0)))).scalar_one())


async def by_operator_since(conn: AsyncConnection, after_id: int, actions: tuple[str, ...]) -> list[Entry]:
    """The operator's entries of these actions after `after_id`, oldest first."""
    query = (
        sa.select(admin_audit, sa.null().label("room_title"))
        .where(admin_audit.c.id > after_id, admin_audit.c.by_operator.is_(True), admin_audit.c.action.in_(actions))
        .order_by(admin_audit.c.id)
    )
    return [_entry(row) for row in await conn.execute(query)]


async def page(conn: AsyncConnection, limit: int, before: int | None) -> list[Entry]:
    """Newest first; `before`: entries with a smaller id (the next page)."""
    query = (
        sa.select(admin_audit, rooms.c.title.label("room_title"))
        .select_from(admin_audit.outerjoin(rooms, rooms.c.id == admin_audit.c.room_id))
        .order_by(admin_audit.c.id.desc())
        .limit(limit)
    )
    if before is not None:
        query = query.where(admin_audit.c.id < before)
    return [_entry(row) for row in await conn.execute(query)]


def _entry(row: Any) -> Entry:
    return Entry(
        id=int(row.id),
        at=float(row.at),
        action=row.action,
        actor_id=row.actor_id,
        by_operator=bool(row.by_operator),
        target_id=row.target_id,
        room_id=row.room_id,
        room_title=row.room_title,
        detail=row.detail,
    )


async def people(conn: AsyncConnection, user_ids: set[str]) -> dict[str, tuple[str, str]]:
    """(username, display name) of those of `user_ids` who still have an account."""
    if not user_ids:
        return {}
    rows = await conn.execute(
        sa.select(users.c.id, users.c.username, users.c.display_name).where(users.c.id.in_(sorted(user_ids)))
    )
    return {row.id: (row.username, row.display_name) for row in rows}
