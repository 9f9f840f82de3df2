"""Embedding routes: the embed pages (a room, a guest room), their public previews,
signing in (or coming into a guest room) inside an embed, and the admin's list of
sites that may embed (docs/API.md, Embedding)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field

from parlor.actions import accounts, embed, guests, sign_ins
from parlor.domain.sessions import client_label
from parlor.transport.http.auth import (
    EMBED_COOKIE,
    CurrentUser,
    MaybeUser,
    ServicesDep,
    check_same_origin,
    clear_embed_cookie,
    set_embed_cookie,
)
from parlor.transport.http.client_address import ClientAddress
from parlor.transport.http.guest_auth import set_embed_guest_cookie
from parlor.transport.http.guests import EnterBody
from parlor.transport.http.headers import frame_ancestors
from parlor.transport.http.openapi import errors
from parlor.transport.http.pages import NO_CACHE, STATIC

router = APIRouter(tags=["embedding"])

_Text = Field(max_length=300)


class LoginBody(BaseModel):
    username: str = _Text
    password: str = _Text


class OriginsBody(BaseModel):
    # null: back to the PARLOR_EMBED_ORIGINS setting; []: embedding off.
    origins: list[Annotated[str, Field(max_length=300)]] | None = Field(max_length=100)


@router.get("/embed/room/{room_id}", include_in_schema=False)
async def embed_page(room_id: str, s: ServicesDep) -> FileResponse:
    """The compact room page; only the listed sites may frame it. A missing or ended
    room gets its status (404, 410) and the page says so."""
    origins, status = await embed.page_status(s, room_id)
    return FileResponse(STATIC / "embed.html", status_code=status, headers={**NO_CACHE, **frame_ancestors(origins)})


@router.get("/api/embed/rooms/{room_id}", responses=errors(403, 410))
async def room_preview(room_id: str, s: ServicesDep) -> dict[str, Any]:
    return await embed.room_preview(s, room_id)


@router.get("/embed/r/{name}", include_in_schema=False)
async def guest_embed_page(name: str, s: ServicesDep) -> FileResponse:
    """A guest room's compact page (the same page as a room's), framed as embed_page."""
    origins, status = await embed.guest_page_status(s, name)
    return FileResponse(STATIC / "embed.html", status_code=status, headers={**NO_CACHE, **frame_ancestors(origins)})


@router.get("/api/embed/guest-rooms/{name}", responses=errors(400, 403))
async def guest_room_preview(name: str, s: ServicesDep) -> dict[str, Any]:
    return await embed.guest_room_preview(s, name)


@router.post("/api/embed/guest-rooms/{name}/enter", responses=errors(400, 403, 409, 429))
async def enter_guest_room(
    name: str, body: EnterBody, request: Request, response: Response, s: ServicesDep, address: ClientAddress
) -> dict[str, Any]:
    """Come into the guest room inside its embed: sets the partitioned `parlor_embed_guest` cookie."""
    check_same_origin(request)
    guest, token, room = await embed.do_enter_guest_room(s, name, body.display_name, address=address)
    set_embed_guest_cookie(response, token)
    return guests.entered_view(s, guest, room)


@router.post("/api/embed/login", responses=errors(401, 403, 429))
async def embed_login(
    body: LoginBody, request: Request, response: Response, s: ServicesDep, address: ClientAddress
) -> dict[str, Any]:
    """Sign in inside an embed: sets the partitioned `parlor_embed` cookie only."""
    check_same_origin(request)
    client = client_label(request.headers.get("user-agent"))
    user = await sign_ins.do_sign_in(s, body.username, body.password, client, address=address)
    secret = await accounts.do_start_session(s, user, client)
    set_embed_cookie(response, secret, s.settings.session_days * 86400)
    return user.to_dict()


@router.post("/api/embed/logout", status_code=204)
async def embed_logout(request: Request, _user: MaybeUser, s: ServicesDep) -> Response:
    secret = request.cookies.get(EMBED_COOKIE)
    if secret:
        await accounts.do_end_session(s, secret)
    response = Response(status_code=204)
    clear_embed_cookie(response)
    return response


@router.get("/api/admin/embed-origins", responses=errors(403))
async def get_origins(user: CurrentUser, s: ServicesDep) -> dict[str, Any]:
    return await embed.embed_settings(s, user)


@router.put("/api/admin/embed-origins")
async def set_origins(body: OriginsBody, user: CurrentUser, s: ServicesDep) -> dict[str, Any]:
    return await embed.do_set_origins(s, user, body.origins)
