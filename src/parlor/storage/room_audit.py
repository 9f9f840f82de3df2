"""The room's audit trail as its moderators read it: moderation entries, with names."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from parlor.storage.tables import audit_log, users

# What moderators (and admins) did to the room or to people in it. Listeners' own
# comings and goings (joins, hands, self-mutes) stay out of this view: in a big room
# they would bury it. `stage.leave` counts only when a moderator moved someone else.
MODERATION = (
    "room.create",
    "room.invite",
    "room.title",
    "room.topics",
    "room.settings",  # before settings were audited one by one
    "room.end",
    "room.end.admin",
    "room.sanction",
    "speak.invite",
    "speak.withdraw",
    "mute.speaker",
    "mute.all",
    "mute.unlock",
    "hands.lower_all",
    "moderator.make",
    "moderator.revoke",
    "remove",
    "remove.block",
    # the chat's moderation (actions/chat.py), never its text
    "chat.settings",
    "chat.delete",
    "chat.timeout",
    "chat.timeout.lift",
)
PREFIXES = ("room.hands.", "room.kind.")


@dataclass(frozen=True)
class Person:
    id: str
    username: str
    display_name: str


@dataclass(frozen=True)
class Entry:
    id: int
    at: float
    action: str
    actor: Person | None  # None: an account since deleted, the operator, or a guest
    target: Person | None
    # as written: a member's id, or "guest" (actions/guest_book.py audit_id)
    actor_id: str | None = None
    target_id: str | None = None


def _moderation() -> sa.ColumnElement[bool]:
    return sa.or_(
        audit_log.c.action.in_(MODERATION),
        *(audit_log.c.action.startswith(prefix, autoescape=True) for prefix in PREFIXES),
        sa.and_(audit_log.c.action == "stage.leave", audit_log.c.actor_id != audit_log.c.target_id),
    )


async def page(conn: AsyncConnection, room_id: str, limit: int, before: int | None) -> list[Entry]:
    """Newest first; `before`: entries with a smaller id (the next page)."""
    actor, target = users.alias("actor"), users.alias("target")
    query = (
        sa.select(
            audit_log.c.id,
            audit_log.c.at,
            audit_log.c.action,
            audit_log.c.actor_id,
            audit_log.c.target_id,
            actor.c.id.label("actor_id_"),
            actor.c.username.label("actor_username"),
            actor.c.display_name.label("actor_display_name"),
            target.c.id.label("target_id_"),
            target.c.username.label("target_username"),
            target.c.display_name.label("target_display_name"),
        )
        .select_from(
            audit_log.outerjoin(actor, actor.c.id == audit_log.c.actor_id).outerjoin(
                target, target.c.id == audit_log.c.target_id
            )
        )
        .where(audit_log.c.room_id == room_id, _moderation())
        .order_by(audit_log.c.id.desc())
        .limit(limit)
    )
    if before is not None:
        query = query.where(audit_log.c.id < before)
    return [
        Entry(
            int(row.id),
            float(row.at),
            row.action,
            _person(row, "actor"),
            _person(row, "target"),
            row.actor_id,
            row.target_id,
        )
        for row in await conn.execute(query)
    ]


def _person(row: Any, prefix: str) -> Person | None:
    m = row._mapping
    if m[f"{prefix}_id_"] is None:
        return None
    return Person(m[f"{prefix}_id_"], m[f"{prefix}_username"], m[f"{prefix}_display_name"])
