"""Guest routes (docs/API.md, Guests): guest rooms by name, entering a members' room
by its link without an account, and the two room settings guests bring."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field

from parlor.actions import guests, rooms
from parlor.actions.guest_book import Guest
from parlor.domain.rooms import Room
from parlor.errors import Code, ParlorError
from parlor.transport.http.auth import CurrentUser, ServicesDep
from parlor.transport.http.client_address import ClientAddress
from parlor.transport.http.guest_auth import MaybeGuest, RoomPrincipal, set_guest_cookie
from parlor.transport.http.openapi import errors
from parlor.transport.http.pages import NO_CACHE, STATIC

router = APIRouter(tags=["guests"])


class EnterBody(BaseModel):
    display_name: str = Field(max_length=1000)


class EnterGuestRoomBody(EnterBody):
    # Opening the room: end-to-end encrypted (docs/E2EE.md); ignored if it is live already.
    encrypted: bool = False


class GuestsBody(BaseModel):
    allowed: bool


class OpenStageBody(BaseModel):
    open: bool


def _entered(s: ServicesDep, request: Request, response: Response, entry: tuple[Guest, str, Room]) -> dict[str, Any]:
    guest, token, room = entry
    set_guest_cookie(request, response, token)
    return guests.entered_view(s, guest, room)


@router.get("/r/{name}", include_in_schema=False)
async def guest_room_page(name: str) -> FileResponse:
    """The app; its guest view asks for a display name (and explains a bad name)."""
    return FileResponse(STATIC / "index.html", headers=NO_CACHE)


@router.get("/api/guest-rooms")
async def guest_rooms_enabled(s: ServicesDep) -> dict[str, Any]:
    """`{enabled}`: whether people without an account may come in as guests now."""
    return await guests.guests_enabled(s)


@router.get("/api/guest-rooms/{name}", responses=errors(400, 403))
async def guest_room_status(name: str, s: ServicesDep) -> dict[str, Any]:
    """`{name, live, room_id, title, count, encrypted}`: whether the guest room is live now."""
    return await guests.guest_room_status(s, name)


@router.post("/api/guest-rooms/{name}/enter", responses=errors(400, 403, 409, 429))
async def enter_guest_room(
    name: str, body: EnterGuestRoomBody, request: Request, response: Response, s: ServicesDep, address: ClientAddress
) -> dict[str, Any]:
    """Come in as a guest (opening the room if it is not live, `encrypted` if asked):
    sets the guest cookie."""
    entry = await guests.do_enter_guest_room(s, name, body.display_name, address=address, encrypted=body.encrypted)
    return _entered(s, request, response, entry)


@router.get("/api/guest/rooms/{room_id}", responses=errors(403, 404, 410))
async def member_room_status(room_id: str, s: ServicesDep) -> dict[str, Any]:
    """A members' room open to "anyone with the link": `{id, title, count}`."""
    return await guests.member_room_status(s, room_id)


@router.post("/api/guest/rooms/{room_id}/enter", responses=errors(400, 403, 404, 409, 410, 429))
async def enter_member_room(
    room_id: str, body: EnterBody, request: Request, response: Response, s: ServicesDep, address: ClientAddress
) -> dict[str, Any]:
    entry = await guests.do_enter_member_room(s, room_id, body.display_name, address=address)
    return _entered(s, request, response, entry)


@router.get("/api/guest/me", responses=errors(401))
async def guest_me(guest: MaybeGuest) -> dict[str, Any]:
    """This browser's guest (`{id, display_name, room_id, guest}`), while they are in their room."""
    if guest is None:
        raise ParlorError(401, Code.NOT_AUTHENTICATED, "You are not a guest in any room.")
    return guests.guest_view(guest)


@router.post("/api/rooms/{room_id}/guests", responses=errors(403, 404, 409, 410))
async def set_guests_allowed(room_id: str, body: GuestsBody, user: CurrentUser, s: ServicesDep) -> dict[str, Any]:
    """A moderator lets "anyone with the link" in as a guest, or not (then guests are out at once)."""
    return rooms.room_view(s, await guests.do_set_guests_allowed(s, user, room_id, body.allowed))


@router.post("/api/rooms/{room_id}/open-stage", responses=errors(403, 404, 409, 410))
async def set_open_stage(room_id: str, body: OpenStageBody, user: RoomPrincipal, s: ServicesDep) -> dict[str, Any]:
    """A guest room's moderator: `open` true, everyone speaks; false, the stage is on."""
    return rooms.room_view(s, await guests.do_set_open_stage(s, user, room_id, body.open))
