"""Who is asking, when guests may ask too: a guest's cookie, or a member's session.

A guest's cookie (`parlor_guest`, HttpOnly, SameSite=Strict) holds a random token
naming one guest in one room (actions/guests.py); a guest who came in through a guest
room's embed on another site holds it in `parlor_embed_guest` instead (partitioned,
as the embed's session cookie: transport/http/auth.py). For a room's routes the guest of
that room is the actor, even in a browser also signed in as a member; anywhere else
a guest is nobody (member-only routes keep `CurrentUser`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated

from fastapi import Depends, Request, Response

from parlor.actions import guests
from parlor.actions.guest_book import Guest
from parlor.domain.users import User
from parlor.errors import Code, ParlorError
from parlor.transport.http.auth import (
    ServicesDep,
    check_same_origin,
    optional_user,
    served_over_https,
    set_partitioned_cookie,
)

GUEST_COOKIE = "parlor_guest"
EMBED_GUEST_COOKIE = "parlor_embed_guest"


def guest_token(cookies: Mapping[str, str]) -> str | None:
    return cookies.get(GUEST_COOKIE) or cookies.get(EMBED_GUEST_COOKIE)


def guest_of(request: Request, s: ServicesDep) -> Guest | None:
    guest = guests.authenticate(s, guest_token(request.cookies))
    if guest is not None:
        check_same_origin(request)
    return guest


MaybeGuest = Annotated[Guest | None, Depends(guest_of)]


MaybeMember = Annotated[User | None, Depends(optional_user)]


async def room_principal(room_id: str, guest: MaybeGuest, user: MaybeMember) -> User:
    """The actor on `room_id`: its guest if this browser is one, else the signed-in member."""
    if guest is not None and guest.room_id == room_id:
        return guest.as_user()
    if user is None:
        raise ParlorError(401, Code.NOT_AUTHENTICATED, "Sign in first.")
    return user


async def any_principal(guest: MaybeGuest, user: MaybeMember) -> User:
    """A signed-in member, else a guest (for what both need, e.g. ICE servers)."""
    if user is not None:
        return user
    if guest is not None:
        return guest.as_user()
    raise ParlorError(401, Code.NOT_AUTHENTICATED, "Sign in first.")


RoomPrincipal = Annotated[User, Depends(room_principal)]
AnyPrincipal = Annotated[User, Depends(any_principal)]


def set_guest_cookie(request: Request, response: Response, token: str) -> None:
    """A session cookie (gone with the browser); the token dies with the guest anyway."""
    response.set_cookie(
        GUEST_COOKIE, token, httponly=True, samesite="strict", secure=served_over_https(request), path="/"
    )


def set_embed_guest_cookie(response: Response, token: str) -> None:
    """The guest cookie of an embed on another site (where SameSite=Strict is not sent)."""
    set_partitioned_cookie(response, EMBED_GUEST_COOKIE, token, None)
