"""Finding a room by id: the live one, or why there is none (ended, never was).

Its own module so that every action that names a room (rooms, notifications,
presence) can import it without importing the others: imports run one way
(rooms → notifications → room_lookup).
"""

from __future__ import annotations

from parlor.actions.ids import looks_like_id
from parlor.actions.room_owner import check_here
from parlor.actions.services import Services
from parlor.domain.rooms import Room
from parlor.errors import Code, ParlorError
from parlor.storage import rooms as store


async def check_room(s: Services, room_id: str) -> Room:
    room = s.live.get(room_id)
    if room is not None:
        return room
    if not looks_like_id(room_id):
        raise ParlorError(404, Code.ROOM_NOT_FOUND, "There is no such room.")
    async with s.db.engine.connect() as conn:
        is_open = await store.room_is_open(conn, room_id)
    if is_open is None:
        raise ParlorError(404, Code.ROOM_NOT_FOUND, "There is no such room.")
    if is_open and s.settings.redis_url:
        # Live on another node of the cluster: the request goes there (room_owner.py).
        await check_here(s, room_id)
        # Its node just died and another takes it over within seconds
        # (actions/room_takeover.py): the client asks again.
        moving = "This room is moving to another server: try again in a moment."
        raise ParlorError(503, Code.ROOM_MOVING, moving, retry_after=2)
    raise ParlorError(410, Code.ROOM_ENDED, "This room has ended.")
