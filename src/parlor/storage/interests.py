"""Queries for people's interests: topics of the instance's list (domain/topics.py)."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from parlor.storage.tables import interests


async def interests_of(conn: AsyncConnection, user_id: str) -> list[str]:
    rows = await conn.execute(
        sa.select(interests.c.topic).where(interests.c.user_id == user_id).order_by(interests.c.topic)
    )
    return [row.topic for row in rows]


async def set_interests(conn: AsyncConnection, user_id: str, topics: Sequence[str]) -> None:
    await conn.execute(interests.delete().where(interests.c.user_id == user_id))
    if topics:
        await conn.execute(interests.insert(), [{"user_id": user_id, "topic": t} for t in topics])
