"""Topics and people's interests (docs/API.md, Topics).

The instance's list is `settings.topics` (PARLOR_TOPICS). A person picks up to
MAX_INTERESTS of them; the hallway ranks rooms on those topics after rooms with
people they follow (actions/hallway.py).
"""

from __future__ import annotations

from typing import Any

from parlor.actions.services import Services
from parlor.domain.topics import MAX_INTERESTS, MAX_PER_THING, check_topics
from parlor.domain.users import User
from parlor.storage import interests as store


def topics(s: Services) -> dict[str, Any]:
    return {"topics": list(s.settings.topics), "max_per_thing": MAX_PER_THING, "max_interests": MAX_INTERESTS}


async def interests(s: Services, user: User) -> dict[str, Any]:
    async with s.db.engine.connect() as conn:
        return {"interests": await store.interests_of(conn, user.id)}


async def do_set_interests(s: Services, user: User, raw: object) -> dict[str, Any]:
    """Replace your interests (all or nothing)."""
    picked = check_topics(raw, s.settings.topics, limit=MAX_INTERESTS)
    async with s.db.engine.begin() as conn:
        await store.set_interests(conn, user.id, picked)
    return await interests(s, user)
