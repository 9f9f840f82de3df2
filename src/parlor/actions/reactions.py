"""Reactions, aggregated: a storm of them costs each client a bounded number of messages.

A reaction is not sent on by itself. The room's `ReactionBoard` entry counts what came
in (per emoji, and per sender for the first BY_MAX senders, so clients float them over
those avatars) and one `reactions` message goes out per INTERVAL_S at most, serialized
once for every subscriber and never queued (as `speaking`, actions/speaking.py). A
quiet room sends its first reaction at once; nothing is sent when nobody reacts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from parlor import protocol as p
from parlor.actions import batching, limits
from parlor.actions.room_lookup import check_room
from parlor.domain import chat as domain
from parlor.domain.users import User

if TYPE_CHECKING:
    from parlor.actions.services import Services

def message(room_id: str, counts: dict[str, int], by: dict[str, dict[str, int]]) -> dict[str, Any]:
    """The bus message; `text` is the socket message, serialized once for every subscriber."""
    return {"name": "reactions", "text": p.Reactions(room_id=room_id, counts=counts, by=by).to_json()}


async def do_react(s: Services, user: User, room_id: str, emoji: str) -> None:
    """React in the room; it goes out with the room's next batch."""
    room = await check_room(s, room_id)
    canonical = domain.check_react(room, s.chat.get(room_id), user.id, emoji, s.clock())
    await limits.check(s, "reactions", account=user.id)
    if s.live.get(room_id) is None:
        return
    s.reactions.add(room_id, user.id, canonical)
    _flush(s, room_id)


def _flush(s: Services, room_id: str) -> None:
    batching.flush(s, room_id, s.reactions, lambda batch: message(room_id, *batch))
