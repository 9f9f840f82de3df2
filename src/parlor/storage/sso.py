"""Queries for single sign-on: the account an (issuer, subject) is linked to, and the
admin flag the provider's claims set."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from parlor.storage.tables import sso_identities, users


async def linked_user_id(conn: AsyncConnection, issuer: str, subject: str) -> str | None:
    row = await conn.execute(
        sa.select(sso_identities.c.user_id).where(
            sso_identities.c.issuer == issuer, sso_identities.c.subject == subject
        )
    )
    return row.scalar_one_or_none()


async def link(conn: AsyncConnection, issuer: str, subject: str, user_id: str, now: float) -> None:
    """Raises IntegrityError if that (issuer, subject) is linked already."""
    await conn.execute(sso_identities.insert().values(issuer=issuer, subject=subject, user_id=user_id, created_at=now))


async def set_admin(conn: AsyncConnection, user_id: str, is_admin: bool) -> bool:
    """Set the flag; whether it changed."""
    result = await conn.execute(
        users.update().where(users.c.id == user_id, users.c.is_admin.is_not(is_admin)).values(is_admin=is_admin)
    )
    return bool(result.rowcount)
