"""Which clients are connected to which rooms, and media signalling for them."""

from __future__ import annotations

from parlor.actions.room_lookup import check_room
from parlor.actions.rooms import do_leave
from parlor.actions.services import Services
from parlor.domain.rooms import Room
from parlor.errors import Code, ParlorError
from parlor.media.base import MediaError


async def check_participant(s: Services, user_id: str, room_id: str) -> Room:
    room = await check_room(s, room_id)
    if user_id not in room.participants:
        raise ParlorError(403, Code.NOT_IN_ROOM, "Join the room first.")
    return room


async def do_attach(s: Services, user_id: str, room_id: str) -> Room:
    """A client of the user subscribed to the room: they are present."""
    room = await check_participant(s, user_id, room_id)
    s.live.attach(room_id, user_id)
    return room


def do_detach(s: Services, user_id: str, room_id: str, since: float) -> None:
    """A client's queue is gone; the reaper makes them leave if none is left."""
    s.live.detach(room_id, user_id, since)


async def do_leave_unattended(s: Services, user_id: str, room_ids: list[str]) -> None:
    """The user's client said bye and did not come back: leave each of these rooms now
    (not after the reconnect grace) unless another client of theirs still follows it."""
    for room_id in room_ids:
        if not s.live.unattended(room_id, user_id):
            continue
        try:
            await do_leave(s, user_id, room_id, action="room.bye")
        except ParlorError:
            pass  # left, removed or ended meanwhile: nothing to do


async def do_media_start(s: Services, user_id: str, room_id: str) -> str:
    room = await check_participant(s, user_id, room_id)
    if room.encrypted:
        # Before the peer opens: the SFU then checks SFrame frames, not Opus (docs/E2EE.md §4).
        s.media.set_encrypted(room_id, True)
    try:
        return await s.media.open_peer(room_id, user_id)
    except MediaError as exc:
        raise ParlorError(503, Code.MEDIA_UNAVAILABLE, str(exc)) from exc


async def do_media_answer(s: Services, user_id: str, room_id: str, sdp: str) -> None:
    await check_participant(s, user_id, room_id)
    try:
        await s.media.accept_answer(room_id, user_id, sdp)
    except MediaError as exc:
        raise ParlorError(400, Code.INVALID_SDP, f"The SDP answer was refused: {exc}") from exc


async def do_media_stop(s: Services, user_id: str, room_id: str) -> None:
    await s.media.close_peer(room_id, user_id)
