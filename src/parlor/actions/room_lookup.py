"""Finding a room by id: the live one, or why there is none (ended, never was).

Its own module so that every action that names a room (rooms, notifications,
presence) can import it without importing the others: imports run one way
(rooms → notifications → room_lookup).
"""

from __future__ import annotations

from parlor.actions.ids import looks_like_id
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
        existed = await store.room_exists(conn, room_id)
    if existed:
        raise ParlorError(410, Code.ROOM_ENDED, "This room has ended.")
    raise ParlorError(404, Code.ROOM_NOT_FOUND, "There is no such room.")
