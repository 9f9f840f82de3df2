"""Queries for the sign-in history: record an attempt, list a member's own, prune."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from parlor.storage.tables import sign_ins


async def record(
    conn: AsyncConnection, user_id: str, now: float, client: str | None, result: str, *, merge_after: float | None
) -> None:
    """One attempt. With `merge_after`, an entry of the same result from the same kind of
    client since then counts it instead (a burst of wrong passwords is one line, and one
    row, however long it goes on)."""
    if merge_after is not None:
        same_client = sign_ins.c.client.is_(None) if client is None else sign_ins.c.client == client
        merged = await conn.execute(
            sign_ins.update()
            .where(
                sign_ins.c.user_id == user_id,
                sign_ins.c.result == result,
                same_client,
                sign_ins.c.at >= merge_after,
            )
            .values(at=now, count=sign_ins.c.count + 1)
        )
        if merged.rowcount:
            return
    await conn.execute(sign_ins.insert().values(user_id=user_id, at=now, client=client, result=result, count=1))


async def recent(conn: AsyncConnection, user_id: str, since: float, limit: int) -> list[dict[str, Any]]:
    query = (
        sa.select(sign_ins.c.at, sign_ins.c.client, sign_ins.c.result, sign_ins.c.count)
        .where(sign_ins.c.user_id == user_id, sign_ins.c.at >= since)
        .order_by(sign_ins.c.at.desc(), sign_ins.c.id.desc())
        .limit(limit)
    )
    return [dict(row) for row in (await conn.execute(query)).mappings()]


async def prune(conn: AsyncConnection, before: float) -> None:
    await conn.execute(sign_ins.delete().where(sign_ins.c.at < before))
