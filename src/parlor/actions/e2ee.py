"""Signalling for end-to-end encrypted rooms (docs/E2EE.md §7): the server relays, never
holds, keys.

`e2ee.publish`: someone in an encrypted room sets their public key for this visit; it
is a room transition (domain/rooms.py `publish_key`), so everyone subscribed gets the
room's snapshot with the person's `public_key` and `keyed_since`, as for any change of
a person. Leaving the room drops it; a reconnect within the reconnect grace keeps it.

`e2ee.key`: a room key wrapped for one person goes to that user's channel, so it reaches
their sockets on whichever node they are (the bus carries it between nodes, as
`room.you`), and nobody else's. It is not queued (as `speaking`): a socket away when it
was sent misses it, and the key leader's next rotation sends another.

Bad input changes nothing and is refused with `bad_key`; someone not in the room (or a
`to` who is not) with `not_in_room`; a plain room with `not_encrypted`; too many with
`rate_limited` (`e2ee_publish` per person and room, `e2ee_key` per person).
"""

from __future__ import annotations

from parlor import protocol as p
from parlor.actions import limits
from parlor.actions.room_lookup import check_room
from parlor.actions.rooms import _transition
from parlor.actions.services import Services
from parlor.bus.base import user_channel
from parlor.domain import e2ee as domain
from parlor.domain import rooms as rooms_domain
from parlor.domain.rooms import Room
from parlor.errors import Code, ParlorError

# The bus message's name on a user's channel (the socket sends its `text` as is).
KEY_EVENT = "e2ee.key"


def _check_in_encrypted_room(room: Room, user_id: str) -> None:
    if room.ended:
        raise ParlorError(410, Code.ROOM_ENDED, "This room has ended.")
    if user_id not in room.participants:
        raise ParlorError(403, Code.NOT_IN_ROOM, "You are not in this room.")
    if not room.encrypted:
        raise ParlorError(409, Code.NOT_ENCRYPTED, "This room is not end-to-end encrypted.")


async def do_publish(s: Services, user_id: str, room_id: str, public_key: str) -> Room:
    """Set `user_id`'s public key in the room (the same key again changes nothing)."""
    domain.check_public_key(public_key)
    room = await check_room(s, room_id)
    _check_in_encrypted_room(room, user_id)
    await limits.check(s, "e2ee_publish", account=f"{user_id}:{room_id}")
    now = s.clock()
    return await _transition(
        s, room_id, user_id, "e2ee.publish", lambda r: rooms_domain.publish_key(r, user_id, public_key, now)
    )


async def do_send_key(s: Services, user_id: str, room_id: str, to: str, epoch: int, wrapped: str) -> None:
    """Relay a wrapped room key from `user_id` to the sockets of `to` alone."""
    domain.check_wrapped(wrapped, epoch)
    room = await check_room(s, room_id)
    _check_in_encrypted_room(room, user_id)
    if to not in room.participants:
        raise ParlorError(404, Code.NOT_IN_ROOM, "That person is not in this room.")
    await limits.check(s, "e2ee_key", account=user_id)
    text = p.E2eeKey(room_id=room_id, from_=user_id, epoch=epoch, wrapped=wrapped).to_json()
    await s.bus.publish(user_channel(to), {"name": KEY_EVENT, "data": {}, "text": text})
