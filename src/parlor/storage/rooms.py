"""Queries for rooms' history, room blocks and the audit log."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from parlor.storage.tables import audit_log, room_blocks, rooms


async def insert_room(
    conn: AsyncConnection, room_id: str, title: str, created_by: str, now: float, *, encrypted: bool = False
) -> None:
    await conn.execute(
        rooms.insert().values(id=room_id, title=title, created_by=created_by, created_at=now, encrypted=encrypted)
    )


async def room_is_open(conn: AsyncConnection, room_id: str) -> bool | None:
    """Whether the room is not marked ended; None when there never was such a room."""
    row = (await conn.execute(sa.select(rooms.c.ended_at).where(rooms.c.id == room_id))).first()
    return None if row is None else row.ended_at is None


async def room_title(conn: AsyncConnection, room_id: str) -> str | None:
    """The room's last title, live or ended; None when there never was such a room."""
    row = (await conn.execute(sa.select(rooms.c.title).where(rooms.c.id == room_id))).first()
    return None if row is None else str(row.title)


async def open_room_title(conn: AsyncConnection, room_id: str) -> str | None:
    """The title of a room not yet ended (a live one, on some node); None otherwise."""
    row = (
        await conn.execute(sa.select(rooms.c.title).where(rooms.c.id == room_id, rooms.c.ended_at.is_(None)))
    ).first()
    return None if row is None else str(row.title)


async def set_title(conn: AsyncConnection, room_id: str, title: str) -> None:
    await conn.execute(rooms.update().where(rooms.c.id == room_id).values(title=title))


async def mark_ended(conn: AsyncConnection, room_id: str, now: float) -> None:
    await conn.execute(
        rooms.update().where(rooms.c.id == room_id, rooms.c.ended_at.is_(None)).values(ended_at=now)
    )


async def open_room_ids(conn: AsyncConnection) -> list[str]:
    """Rooms not marked ended (live now on some node, or left open by a crash)."""
    result = await conn.execute(sa.select(rooms.c.id).where(rooms.c.ended_at.is_(None)))
    return [row.id for row in result]


async def end_open(conn: AsyncConnection, room_ids: list[str], now: float) -> int:
    """Mark these rooms ended (if still open): their live state died with a node."""
    if not room_ids:
        return 0
    result = await conn.execute(
        rooms.update().where(rooms.c.id.in_(room_ids), rooms.c.ended_at.is_(None)).values(ended_at=now)
    )
    return result.rowcount


async def block(conn: AsyncConnection, moderator_id: str, blocked_id: str, now: float) -> None:
    exists = await conn.execute(
        sa.select(room_blocks.c.blocked_id).where(
            room_blocks.c.moderator_id == moderator_id, room_blocks.c.blocked_id == blocked_id
        )
    )
    if exists.first() is None:
        await conn.execute(
            room_blocks.insert().values(moderator_id=moderator_id, blocked_id=blocked_id, created_at=now)
        )


async def moderators_keeping_out(conn: AsyncConnection, user_id: str) -> set[str]:
    """Moderators who removed `user_id` with a block: their rooms are not there for them."""
    rows = await conn.execute(sa.select(room_blocks.c.moderator_id).where(room_blocks.c.blocked_id == user_id))
    return {row.moderator_id for row in rows}


async def blocked_by_any(conn: AsyncConnection, user_id: str, moderator_ids: list[str]) -> bool:
    if not moderator_ids:
        return False
    row = await conn.execute(
        sa.select(room_blocks.c.moderator_id)
        .where(room_blocks.c.blocked_id == user_id, room_blocks.c.moderator_id.in_(moderator_ids))
        .limit(1)
    )
    return row.first() is not None


async def audit(
    conn: AsyncConnection,
    *,
    now: float,
    actor_id: str | None,
    action: str,
    room_id: str | None = None,
    target_id: str | None = None,
) -> None:
    await conn.execute(
        audit_log.insert().values(at=now, actor_id=actor_id, room_id=room_id, action=action, target_id=target_id)
    )
