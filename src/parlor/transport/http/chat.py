"""In-room chat and reactions: one action each (actions/chat.py, actions/reactions.py)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field

from parlor.actions import chat, reactions
from parlor.domain.chat import ChatMode
from parlor.transport.http.auth import ServicesDep
from parlor.transport.http.guest_auth import RoomPrincipal
from parlor.transport.http.openapi import errors

router = APIRouter(prefix="/api/rooms", tags=["chat"])
_ROOM = errors(403, 404, 409, 410)
_LIMITED = errors(403, 404, 409, 410, 429)


class MessageBody(BaseModel):
    # Generous here: the chat's own limit (domain/chat.py MESSAGE_MAX) answers `chat_too_long`.
    text: str = Field(max_length=10_000)


class ChatSettingsBody(BaseModel):
    mode: ChatMode | None = None
    slow_mode_s: int | None = None


class TimeoutBody(BaseModel):
    user_id: str = Field(min_length=1, max_length=64)
    seconds: int


class ReactionBody(BaseModel):
    emoji: str = Field(max_length=16)


@router.get("/{room_id}/chat", responses=_ROOM)
async def get_chat(room_id: str, user: RoomPrincipal, s: ServicesDep) -> dict[str, Any]:
    """The chat's settings, the recent lines and your own timeout, for someone in the room."""
    return await chat.chat_for(s, user, room_id)


@router.post("/{room_id}/chat", status_code=201, responses=_LIMITED)
async def send(room_id: str, body: MessageBody, user: RoomPrincipal, s: ServicesDep) -> dict[str, Any]:
    return await chat.do_send(s, user, room_id, body.text)


@router.delete("/{room_id}/chat/{message_id}", status_code=204, responses=_ROOM)
async def delete(room_id: str, message_id: str, user: RoomPrincipal, s: ServicesDep) -> Response:
    await chat.do_delete(s, user, room_id, message_id)
    return Response(status_code=204)


@router.patch("/{room_id}/chat", responses=_ROOM)
async def settings(room_id: str, body: ChatSettingsBody, user: RoomPrincipal, s: ServicesDep) -> dict[str, Any]:
    """A moderator turns the chat off, to speakers only or to everyone, and sets slow mode."""
    return await chat.do_update_settings(s, user, room_id, body.mode, body.slow_mode_s)


@router.post("/{room_id}/chat/timeouts", responses=_ROOM)
async def time_out(room_id: str, body: TimeoutBody, user: RoomPrincipal, s: ServicesDep) -> dict[str, Any]:
    """A moderator keeps someone out of the chat for `seconds` (0 lifts it)."""
    return await chat.do_time_out(s, user, room_id, body.user_id, body.seconds)


@router.post("/{room_id}/reactions", status_code=202, responses=_LIMITED)
async def react(room_id: str, body: ReactionBody, user: RoomPrincipal, s: ServicesDep) -> Response:
    """React; it goes out with the room's next `reactions` batch (also the socket's `react`)."""
    await reactions.do_react(s, user, room_id, body.emoji)
    return Response(status_code=202)
