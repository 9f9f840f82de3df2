"""Growth routes: sign-up mode, invites, the waitlist, let-in.

The waitlisted have no account: their secret waitlist token travels in the
`X-Waitlist-Token` header (never in a URL, so it stays out of access logs).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request, Response
from pydantic import BaseModel, Field

from parlor.actions import growth
from parlor.transport.http.accounts import sign_in
from parlor.transport.http.auth import CurrentUser, ServicesDep, check_same_origin
from parlor.transport.http.client_address import ClientAddress
from parlor.transport.http.openapi import errors

router = APIRouter(prefix="/api", tags=["growth"])

Limit = Annotated[int, Query(ge=1, le=growth.PAGE_MAX)]
Cursor = Annotated[str | None, Query(max_length=200)]
WaitlistToken = Annotated[str, Header(alias="X-Waitlist-Token", max_length=200)]

_Text = Field(max_length=300)


class ModeBody(BaseModel):
    mode: str = Field(max_length=20)


class JoinBody(BaseModel):
    username: str = _Text
    display_name: str = _Text


class FinishBody(BaseModel):
    password: str = _Text


class AdmitBody(BaseModel):
    username: str | None = Field(default=None, max_length=300)
    entry_id: str | None = Field(default=None, max_length=64)


# -- sign-up mode ---------------------------------------------------------------------------


@router.get("/signup-mode")
async def get_signup_mode(s: ServicesDep) -> dict[str, Any]:
    return await growth.signup_mode(s)


@router.put("/admin/signup-mode")
async def set_signup_mode(body: ModeBody, user: CurrentUser, s: ServicesDep) -> dict[str, Any]:
    return await growth.do_set_signup_mode(s, user, body.mode)


# -- invites ----------------------------------------------------------------------------------


@router.post("/invites", status_code=201, responses=errors(403, 429))
async def create_invite(user: CurrentUser, s: ServicesDep) -> dict[str, Any]:
    made = await growth.do_create_invite(s, user)
    return {**made, "url": f"{s.settings.base_url}/invite/{made['code']}"}


@router.get("/invites")
async def list_invites(
    user: CurrentUser, s: ServicesDep, limit: Limit = growth.PAGE_DEFAULT, cursor: Cursor = None
) -> dict[str, Any]:
    return await growth.list_invites(s, user, limit, cursor)


@router.delete("/invites/{invite_id}", responses=errors(409))
async def revoke_invite(invite_id: str, user: CurrentUser, s: ServicesDep) -> dict[str, Any]:
    return await growth.do_revoke_invite(s, user, invite_id)


# -- the waitlist -----------------------------------------------------------------------------


@router.post("/waitlist", status_code=201, responses=errors(403, 409, 429))
async def join_waitlist(body: JoinBody, request: Request, s: ServicesDep, address: ClientAddress) -> dict[str, Any]:
    check_same_origin(request)
    return await growth.do_join_waitlist(s, body.username, body.display_name, address=address)


@router.get("/waitlist/me", responses=errors(401, 404))
async def waitlist_status(s: ServicesDep, token: WaitlistToken = "") -> dict[str, Any]:
    return await growth.waitlist_status(s, token)


@router.delete("/waitlist/me", status_code=204, responses=errors(401, 404))
async def leave_waitlist(request: Request, s: ServicesDep, token: WaitlistToken = "") -> Response:
    check_same_origin(request)
    await growth.do_leave_waitlist(s, token)
    return Response(status_code=204)


@router.post("/waitlist/me/signup", status_code=201, responses=errors(401, 403, 404, 409, 429))
async def finish_signup(
    body: FinishBody, request: Request, response: Response, s: ServicesDep, token: WaitlistToken = ""
) -> dict[str, Any]:
    check_same_origin(request)
    user = await growth.do_finish_signup(s, token, body.password)
    await sign_in(request, response, s, user)
    return user.to_dict()


@router.post("/waitlist/admit", responses=errors(404, 409))
async def admit(body: AdmitBody, user: CurrentUser, s: ServicesDep) -> dict[str, Any]:
    return await growth.do_admit(s, user, body.username, body.entry_id)


@router.get("/admin/waitlist", responses=errors(403))
async def admin_waitlist(
    user: CurrentUser, s: ServicesDep, limit: Limit = growth.PAGE_DEFAULT, cursor: Cursor = None
) -> dict[str, Any]:
    return await growth.waitlist(s, user, limit, cursor)


@router.delete("/admin/waitlist/{entry_id}", status_code=204)
async def delete_waitlist_entry(entry_id: str, user: CurrentUser, s: ServicesDep) -> Response:
    """Admins only: take a place off the waitlist (audited)."""
    await growth.do_delete_waitlist_entry(s, user, entry_id)
    return Response(status_code=204)
