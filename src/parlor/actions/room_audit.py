"""GET /api/rooms/{id}/audit: the room's moderation trail, for its moderators."""

from __future__ import annotations

from typing import Any

from parlor.actions.guest_book import GUEST_ACTOR
from parlor.actions.paging import check_limit
from parlor.actions.room_lookup import check_room
from parlor.actions.services import Services
from parlor.domain import rooms as domain
from parlor.domain.users import User
from parlor.errors import bad_input
from parlor.storage import room_audit as store

PAGE_DEFAULT, PAGE_MAX = 50, 100
# An admin acting on the room is shown as "an admin", never by name (as a handled
# report never says who handled it).
BY_ADMIN = ("room.end.admin", "room.sanction")


# A guest is audited only as "guest" (no id, no name): shown as "a guest", never null
# (null is an account since deleted).
GUEST = {"id": None, "username": "", "display_name": "a guest", "guest": True}


def _person(p: store.Person | None, written: str | None) -> dict[str, Any] | None:
    if written == GUEST_ACTOR:
        return dict(GUEST)
    if p is None:
        return None
    return {"id": p.id, "username": p.username, "display_name": p.display_name}


async def audit_page(s: Services, user: User, room_id: str, limit: int, before: int | None) -> dict[str, Any]:
    """Newest first, `limit` entries before the entry id `before`: who, what, whom, when."""
    room = await check_room(s, room_id)
    domain.require_moderator(room, user.id)
    check_limit(limit, PAGE_MAX)
    if before is not None and before < 1:
        raise bad_input("before must be an entry id.")
    async with s.db.engine.connect() as conn:
        entries = await store.page(conn, room_id, limit + 1, before)
    more = len(entries) > limit
    entries = entries[:limit]
    return {
        "entries": [
            {
                "id": e.id,
                "at": e.at,
                "action": e.action,
                "by": None if e.action in BY_ADMIN else _person(e.actor, e.actor_id),
                "by_admin": e.action in BY_ADMIN,
                "target": _person(e.target, e.target_id),
            }
            for e in entries
        ],
        "next_before": entries[-1].id if more else None,
    }
