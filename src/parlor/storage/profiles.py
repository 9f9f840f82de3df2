"""Queries for profiles (bio, "nominated by a former member") and avatars."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from parlor.storage.db import insert_ignore
from parlor.storage.tables import avatars, profiles, users


@dataclass(frozen=True)
class ProfileRow:
    """The profile fields beyond users' own columns; defaults when no row exists."""

    bio: str = ""
    nominated_by_former: bool = False
    avatar_sha256: str | None = None


async def profile_row(conn: AsyncConnection, user_id: str) -> ProfileRow:
    query = (
        sa.select(profiles.c.bio, profiles.c.nominated_by_former, avatars.c.sha256)
        .select_from(users.outerjoin(profiles, profiles.c.user_id == users.c.id))
        .outerjoin(avatars, avatars.c.user_id == users.c.id)
        .where(users.c.id == user_id)
    )
    row = (await conn.execute(query)).first()
    if row is None:
        return ProfileRow()
    return ProfileRow(row.bio or "", bool(row.nominated_by_former), row.sha256)


async def _ensure_row(conn: AsyncConnection, user_id: str) -> None:
    await conn.execute(insert_ignore(conn, profiles, user_id=user_id, bio="", nominated_by_former=False))


async def set_bio(conn: AsyncConnection, user_id: str, bio: str) -> None:
    await _ensure_row(conn, user_id)
    await conn.execute(profiles.update().where(profiles.c.user_id == user_id).values(bio=bio))


async def set_display_name(conn: AsyncConnection, user_id: str, display_name: str) -> None:
    await conn.execute(users.update().where(users.c.id == user_id).values(display_name=display_name))


async def mark_nominated_by_former(conn: AsyncConnection, nominator_id: str) -> None:
    """Everyone `nominator_id` nominated: "nominated by a former member" from now on."""
    nominees = (await conn.execute(sa.select(users.c.id).where(users.c.invited_by == nominator_id))).scalars().all()
    for nominee in nominees:
        await _ensure_row(conn, nominee)
    if nominees:
        await conn.execute(profiles.update().where(profiles.c.user_id.in_(nominees)).values(nominated_by_former=True))


# -- avatars ------------------------------------------------------------------------------


async def put_avatar(conn: AsyncConnection, user_id: str, sha256: str, image: bytes, now: float) -> None:
    await conn.execute(avatars.delete().where(avatars.c.user_id == user_id))
    await conn.execute(avatars.insert().values(user_id=user_id, sha256=sha256, image=image, created_at=now))


async def delete_avatar(conn: AsyncConnection, user_id: str) -> bool:
    result = await conn.execute(avatars.delete().where(avatars.c.user_id == user_id))
    return result.rowcount == 1


async def avatar(conn: AsyncConnection, user_id: str) -> tuple[str, bytes] | None:
    """(sha256, image bytes), or None."""
    row = (await conn.execute(sa.select(avatars.c.sha256, avatars.c.image).where(avatars.c.user_id == user_id))).first()
    return (row.sha256, bytes(row.image)) if row else None
