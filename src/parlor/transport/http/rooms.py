"""Room routes: one action each; every success answers with the new snapshot."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from parlor.actions import hallway as hallway_actions
from parlor.actions import room_audit, rooms
from parlor.domain.rooms import HandRaise, Room, RoomKind
from parlor.transport.http.auth import CurrentUser, ServicesDep
from parlor.transport.http.client_address import ClientAddress
from parlor.transport.http.guest_auth import RoomPrincipal
from parlor.transport.http.openapi import errors

router = APIRouter(prefix="/api/rooms", tags=["rooms"])
# A room route may be refused (403), name no room (404), clash with its state (409) or
# come after it ended (410).
_ROOM = errors(403, 404, 409, 410)
_ROOM_LIMITED = errors(403, 404, 409, 410, 429)

_Id = Field(min_length=1, max_length=64)


# A list the topic check judges (too many, unknown: its own codes); bounded here only
# against absurd bodies.
_Topics = Field(default=None, max_length=100)


class CreateBody(BaseModel):
    title: str = Field(max_length=1000)
    kind: RoomKind = RoomKind.OPEN
    hand_raise: HandRaise = HandRaise.EVERYONE
    topics: list[str] | None = _Topics
    # A club's room: its admins and leaders start them (docs/API.md, Clubs).
    club_id: str | None = Field(default=None, max_length=64)
    members_only: bool = False
    # End-to-end encrypted for the room's whole life (docs/E2EE.md).
    encrypted: bool = False


class InviteBody(BaseModel):
    username: str = Field(min_length=1, max_length=40)


class HandBody(BaseModel):
    raised: bool


class TargetBody(BaseModel):
    user_id: str = _Id


class MuteBody(BaseModel):
    muted: bool


class MuteSpeakerBody(BaseModel):
    user_id: str = _Id
    lock: bool = False


class RemoveBody(BaseModel):
    user_id: str = _Id
    block: bool = False


class SettingsBody(BaseModel):
    title: str | None = Field(default=None, max_length=1000)
    hand_raise: HandRaise | None = None
    kind: RoomKind | None = None
    topics: list[str] | None = _Topics


Snapshot = dict[str, Any]


def _view(s: ServicesDep, room: Room) -> Snapshot:
    return rooms.room_view(s, room)


@router.get("")
async def hallway(
    user: CurrentUser, s: ServicesDep, topic: Annotated[str | None, Query(max_length=100)] = None
) -> dict[str, Any]:
    """The hallway: live rooms ranked for you, and upcoming events (docs/API.md, Rooms);
    `topic` keeps the rooms on it."""
    return await hallway_actions.hallway_page(s, user, topic=topic)


@router.post("", status_code=201, responses=errors(403, 404, 409, 429))
async def create(body: CreateBody, user: CurrentUser, s: ServicesDep, address: ClientAddress) -> Snapshot:
    room = await rooms.do_create_room(
        s,
        user,
        body.title,
        body.kind,
        body.hand_raise,
        address=address,
        topics=body.topics,
        club_id=body.club_id,
        members_only=body.members_only,
        encrypted=body.encrypted,
    )
    return _view(s, room)


@router.get("/{room_id}", responses=_ROOM)
async def get(room_id: str, user: RoomPrincipal, s: ServicesDep) -> Snapshot:
    """The snapshot, for someone in the room or who may join it; others get the refusal."""
    return _view(s, await rooms.room_for(s, user, room_id))


@router.get("/{room_id}/audience", responses=_ROOM)
async def audience(
    room_id: str,
    user: RoomPrincipal,
    s: ServicesDep,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=rooms.AUDIENCE_PAGE_MAX)] = 100,
) -> dict[str, Any]:
    """A page of the listeners, in join order (snapshots list only the first few)."""
    return await rooms.audience_page(s, user, room_id, offset, limit)


@router.get("/{room_id}/audit", responses=errors(403, 404, 410))
async def audit(
    room_id: str,
    user: CurrentUser,
    s: ServicesDep,
    limit: Annotated[int, Query(ge=1, le=room_audit.PAGE_MAX)] = room_audit.PAGE_DEFAULT,
    before: Annotated[int | None, Query(ge=1)] = None,
) -> dict[str, Any]:
    """The room's moderation trail, newest first (moderators only): who, what, whom, when."""
    return await room_audit.audit_page(s, user, room_id, limit, before)


@router.patch("/{room_id}", responses=_ROOM)
async def update(room_id: str, body: SettingsBody, user: RoomPrincipal, s: ServicesDep) -> Snapshot:
    room = await rooms.do_update_settings(s, user, room_id, body.title, body.hand_raise, body.kind, body.topics)
    return _view(s, room)


@router.post("/{room_id}/invites", responses=_ROOM_LIMITED)
async def invite(room_id: str, body: InviteBody, user: CurrentUser, s: ServicesDep) -> Snapshot:
    """A moderator invites a member (by username) into a social or closed room."""
    return _view(s, await rooms.do_invite_member(s, user, room_id, body.username))


@router.post("/{room_id}/join", responses=_ROOM_LIMITED)
async def join(room_id: str, user: CurrentUser, s: ServicesDep) -> Snapshot:
    return _view(s, await rooms.do_join(s, user, room_id))


@router.post("/{room_id}/leave", responses=_ROOM)
async def leave(room_id: str, user: RoomPrincipal, s: ServicesDep) -> Snapshot:
    return _view(s, await rooms.do_leave(s, user.id, room_id))


@router.post("/{room_id}/hand", responses=_ROOM)
async def hand(room_id: str, body: HandBody, user: RoomPrincipal, s: ServicesDep) -> Snapshot:
    return _view(s, await rooms.do_set_hand(s, user, room_id, body.raised))


@router.post("/{room_id}/speak-invites", responses=_ROOM)
async def invite_to_speak(room_id: str, body: TargetBody, user: RoomPrincipal, s: ServicesDep) -> Snapshot:
    return _view(s, await rooms.do_invite_to_speak(s, user, room_id, body.user_id))


@router.post("/{room_id}/speak-invite/accept", responses=_ROOM)
async def accept_invite(room_id: str, user: RoomPrincipal, s: ServicesDep) -> Snapshot:
    return _view(s, await rooms.do_answer_speak_invite(s, user, room_id, accept=True))


@router.post("/{room_id}/speak-invite/decline", responses=_ROOM)
async def decline_invite(room_id: str, user: RoomPrincipal, s: ServicesDep) -> Snapshot:
    return _view(s, await rooms.do_answer_speak_invite(s, user, room_id, accept=False))


@router.delete("/{room_id}/speak-invites/{target_id}", responses=_ROOM)
async def withdraw_invite(room_id: str, target_id: str, user: RoomPrincipal, s: ServicesDep) -> Snapshot:
    """A moderator takes back an invitation to speak that is not answered yet."""
    return _view(s, await rooms.do_withdraw_speak_invite(s, user, room_id, target_id))


@router.post("/{room_id}/audience", responses=_ROOM)
async def move_to_audience(room_id: str, body: TargetBody, user: RoomPrincipal, s: ServicesDep) -> Snapshot:
    return _view(s, await rooms.do_move_to_audience(s, user, room_id, body.user_id))


@router.post("/{room_id}/mute", responses=_ROOM)
async def mute(room_id: str, body: MuteBody, user: RoomPrincipal, s: ServicesDep) -> Snapshot:
    return _view(s, await rooms.do_set_muted(s, user, room_id, body.muted))


@router.post("/{room_id}/mute-speaker", responses=_ROOM)
async def mute_speaker(room_id: str, body: MuteSpeakerBody, user: RoomPrincipal, s: ServicesDep) -> Snapshot:
    return _view(s, await rooms.do_mute_speaker(s, user, room_id, body.user_id, body.lock))


@router.post("/{room_id}/mute-all", responses=_ROOM)
async def mute_all(room_id: str, user: RoomPrincipal, s: ServicesDep) -> Snapshot:
    """A moderator mutes everyone on stage but the moderators (each may unmute again)."""
    return _view(s, await rooms.do_mute_all(s, user, room_id))


@router.post("/{room_id}/lower-hands", responses=_ROOM)
async def lower_all_hands(room_id: str, user: RoomPrincipal, s: ServicesDep) -> Snapshot:
    """A moderator lowers every raised hand."""
    return _view(s, await rooms.do_lower_all_hands(s, user, room_id))


@router.post("/{room_id}/unlock-mute", responses=_ROOM)
async def unlock_mute(room_id: str, body: TargetBody, user: RoomPrincipal, s: ServicesDep) -> Snapshot:
    return _view(s, await rooms.do_unlock_mute(s, user, room_id, body.user_id))


@router.post("/{room_id}/moderators", responses=_ROOM)
async def make_moderator(room_id: str, body: TargetBody, user: RoomPrincipal, s: ServicesDep) -> Snapshot:
    return _view(s, await rooms.do_make_moderator(s, user, room_id, body.user_id))


@router.delete("/{room_id}/moderators/{target_id}", responses=_ROOM)
async def revoke_moderator(room_id: str, target_id: str, user: RoomPrincipal, s: ServicesDep) -> Snapshot:
    return _view(s, await rooms.do_revoke_moderator(s, user, room_id, target_id))


@router.post("/{room_id}/remove", responses=_ROOM)
async def remove(room_id: str, body: RemoveBody, user: RoomPrincipal, s: ServicesDep) -> Snapshot:
    return _view(s, await rooms.do_remove(s, user, room_id, body.user_id, body.block))


@router.post("/{room_id}/end", responses=_ROOM)
async def end(room_id: str, user: RoomPrincipal, s: ServicesDep) -> Snapshot:
    return _view(s, await rooms.do_end(s, user, room_id))
