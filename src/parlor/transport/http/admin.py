"""Admin routes (docs/API.md, Admin): people, sanctions, rooms, settings, the audit log.

Sign-up mode and the waitlist have their routes in growth.py, the embedding sites in
embed.py, the report queue in the reports routes. Every route answers members
`403 not_admin` and the signed-out `401 not_authenticated`.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from parlor.actions import admin, admin_people, clubs, instance_settings, sanctions
from parlor.transport.http.auth import CurrentUser, ServicesDep
from parlor.transport.http.openapi import errors

# members get 403 not_admin; sanctions and room ends can conflict with the state (409, 410)
_ADMIN = errors(403, 404, 409, 410)

router = APIRouter(prefix="/api/admin", tags=["admin"])

_Text = Field(max_length=2000)


class WarnBody(BaseModel):
    message: str = _Text


class SuspendBody(BaseModel):
    days: int = Field(ge=1, le=sanctions.DAYS_MAX)
    reason: str = _Text


class ReasonBody(BaseModel):
    reason: str = _Text


class OptionalReasonBody(BaseModel):
    reason: str = Field(default="", max_length=2000)


class SettingsBody(BaseModel):
    # Unknown settings are refused, not ignored.
    model_config = ConfigDict(extra="forbid")

    invites_per_member: int | None = Field(default=None, ge=0, le=instance_settings.INVITES_MAX)
    guest_rooms: bool | None = None
    clubs_rule: str | None = Field(default=None, max_length=20)
    club_min_rooms_hosted: int | None = Field(default=None, ge=1, le=instance_settings.CLUB_ROOMS_MAX)


# -- people ---------------------------------------------------------------------------------


@router.get("/users", responses=_ADMIN)
async def search_people(
    user: CurrentUser,
    s: ServicesDep,
    q: Annotated[str, Query(max_length=200)] = "",
    limit: Annotated[int, Query(ge=1, le=admin_people.SEARCH_MAX)] = admin_people.SEARCH_DEFAULT,
) -> dict[str, Any]:
    return await admin_people.search(s, user, q, limit)


@router.get("/users/{user_id}", responses=_ADMIN)
async def person(user_id: str, user: CurrentUser, s: ServicesDep) -> dict[str, Any]:
    return await admin_people.person(s, user, user_id)


# -- sanctions ------------------------------------------------------------------------------


@router.post("/users/{user_id}/warn", status_code=201, responses=_ADMIN)
async def warn(user_id: str, body: WarnBody, user: CurrentUser, s: ServicesDep) -> dict[str, Any]:
    return await sanctions.do_warn(s, user, user_id, body.message)


@router.post("/users/{user_id}/suspend", status_code=201, responses=_ADMIN)
async def suspend(user_id: str, body: SuspendBody, user: CurrentUser, s: ServicesDep) -> dict[str, Any]:
    return await sanctions.do_suspend(s, user, user_id, body.days, body.reason)


@router.post("/users/{user_id}/ban", status_code=201, responses=_ADMIN)
async def ban(user_id: str, body: ReasonBody, user: CurrentUser, s: ServicesDep) -> dict[str, Any]:
    return await sanctions.do_ban(s, user, user_id, body.reason)


@router.post("/users/{user_id}/lift", status_code=201, responses=_ADMIN)
async def lift(user_id: str, body: OptionalReasonBody, user: CurrentUser, s: ServicesDep) -> dict[str, Any]:
    return await sanctions.do_lift(s, user, user_id, body.reason)


@router.post("/users/{user_id}/avatar/remove", responses=_ADMIN)
async def remove_avatar(user_id: str, body: OptionalReasonBody, user: CurrentUser, s: ServicesDep) -> dict[str, Any]:
    return await admin.do_remove_avatar(s, user, user_id, body.reason)


# -- rooms ------------------------------------------------------------------------------------


@router.post("/rooms/{room_id}/end", responses=_ADMIN)
async def end_room(room_id: str, body: ReasonBody, user: CurrentUser, s: ServicesDep) -> dict[str, Any]:
    return await admin.do_end_room(s, user, room_id, body.reason)


# -- clubs ------------------------------------------------------------------------------------


@router.get("/clubs", responses=_ADMIN)
async def list_clubs(
    user: CurrentUser,
    s: ServicesDep,
    q: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=clubs.LIST_MAX)] = clubs.LIST_DEFAULT,
) -> dict[str, Any]:
    return await clubs.admin_list(s, user, q, limit)


@router.post("/clubs/{club_id}/remove", responses=_ADMIN)
async def remove_club(club_id: str, body: ReasonBody, user: CurrentUser, s: ServicesDep) -> dict[str, Any]:
    """Remove a club for good (its live rooms end); audited with the reason."""
    return await clubs.do_remove(s, user, club_id, body.reason)


# -- instance settings and the audit log -------------------------------------------------------


@router.get("/settings", responses=_ADMIN)
async def get_settings(user: CurrentUser, s: ServicesDep) -> dict[str, Any]:
    return await instance_settings.settings(s, user)


@router.patch("/settings", responses=_ADMIN)
async def change_settings(body: SettingsBody, user: CurrentUser, s: ServicesDep) -> dict[str, Any]:
    return await instance_settings.do_change(s, user, body.model_dump(exclude_none=True))


@router.get("/audit", responses=_ADMIN)
async def audit_log(
    user: CurrentUser,
    s: ServicesDep,
    limit: Annotated[int, Query(ge=1, le=admin.AUDIT_MAX)] = admin.AUDIT_DEFAULT,
    before: Annotated[int | None, Query(ge=1)] = None,
) -> dict[str, Any]:
    return await admin.audit_log(s, user, limit, before)
