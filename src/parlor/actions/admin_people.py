"""The admins' view of people: search everyone, and one person's page.

A person's page gathers what an admin needs to judge a report: their profile, when
they joined and who invited them, whom they invited, the rooms they hosted and
their sanctions. Reports against them come from the reports API
(`GET /api/admin/users/{id}/reports`).
"""

from __future__ import annotations

from typing import Any

from parlor.actions import growth, sanctions
from parlor.actions.growth import check_admin
from parlor.actions.paging import check_limit
from parlor.actions.profiles import avatar_url, profile_fields
from parlor.actions.services import Services
from parlor.domain.text import clean_text
from parlor.domain.users import User
from parlor.storage import admin_people as store
from parlor.storage import profiles as profile_store
from parlor.storage import sanctions as sanction_store

SEARCH_DEFAULT, SEARCH_MAX = 20, 100
QUERY_MAX = 50
ROOMS_MAX = 50
INVITES_MAX = 100
_STATES = {"ban": "banned", "suspend": "suspended", None: "ok"}


def _query(q: str) -> str:
    # The one text rule (a NUL would be an error from PostgreSQL, not "nobody").
    return clean_text(q, "A search", max_len=QUERY_MAX).lower().removeprefix("@")


async def search(s: Services, actor: User | None, q: str, limit: int) -> dict[str, Any]:
    """People by username or display-name prefix (everyone; none hidden); an empty
    query lists the newest members."""
    check_admin(actor)
    check_limit(limit, SEARCH_MAX)
    prefix = _query(q)
    async with s.db.engine.connect() as conn:
        found = await store.search(conn, prefix, limit, s.clock())
    return {
        "people": [
            {
                "id": f.id,
                "username": f.username,
                "display_name": f.display_name,
                "is_admin": f.is_admin,
                "created_at": f.created_at,
                "avatar_url": avatar_url(f.id, f.avatar_sha256) if f.avatar_sha256 else None,
                "state": _STATES.get(f.restricted, "ok"),
            }
            for f in found
        ]
    }


async def person(s: Services, actor: User | None, user_id: str) -> dict[str, Any]:
    check_admin(actor)
    target = await sanctions.find_user(s, user_id)
    async with s.db.engine.connect() as conn:
        profile = await profile_store.profile_row(conn, target.id)
        invited_by = await growth.nominated_by(conn, target.id)
        hosted, hosted_count = await store.rooms_hosted(conn, target.id, ROOMS_MAX)
        current = await sanction_store.current(conn, target.id, s.clock())
        history = await sanctions.history(s, conn, target.id)
    fields = profile_fields(target.id, profile)
    invites = await growth.list_invites(s, target, INVITES_MAX, None)
    return {
        "user": {
            **target.to_dict(),
            "created_at": target.created_at,
            "bio": fields["bio"],
            "avatar_url": fields["avatar_url"],
        },
        "standing": sanctions.standing_view(current),
        "invited_by": invited_by or fields.get("nominated_by"),
        "invites": invites["invites"],
        "invites_more": invites["next_cursor"] is not None,
        "rooms_hosted": [
            {
                "id": row.id,
                "title": row.title,
                "created_at": row.created_at,
                "ended_at": row.ended_at,
                "live": row.id in s.live.rooms,
            }
            for row in hosted
        ],
        "rooms_hosted_count": hosted_count,
        "sanctions": history,
    }
