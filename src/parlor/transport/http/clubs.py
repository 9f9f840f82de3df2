"""Club and topic routes (docs/API.md, Clubs; Topics): one action each."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from parlor.actions import club_members, clubs, interests
from parlor.transport.http.auth import CurrentUser, ServicesDep
from parlor.transport.http.openapi import errors

router = APIRouter(prefix="/api", tags=["clubs"])

# refused (403), no such club or person (404), clashes with the club's state (409)
_CLUB = errors(403, 404, 409)
_CLUB_LIMITED = errors(403, 404, 409, 429)

# Texts and lists are judged by the actions (their own codes); bounded here against absurd bodies.
_Text = Field(max_length=5000)
_Topics = Field(default=None, max_length=100)


class FoundBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(max_length=1000)
    description: str = Field(default="", max_length=5000)
    rules: str = Field(default="", max_length=5000)
    topics: list[str] | None = _Topics
    mode: str = Field(default="open", max_length=40)


class UpdateBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    description: str | None = Field(default=None, max_length=5000)
    rules: str | None = Field(default=None, max_length=5000)
    topics: list[str] | None = _Topics
    mode: str | None = Field(default=None, max_length=40)


class UsernameBody(BaseModel):
    username: str = Field(min_length=1, max_length=40)


class RoleBody(BaseModel):
    role: str = Field(max_length=40)


class InterestsBody(BaseModel):
    topics: list[str] = Field(max_length=100)


# -- topics and interests ----------------------------------------------------------------------


@router.get("/topics")
async def topics(_user: CurrentUser, s: ServicesDep) -> dict[str, Any]:
    """The instance's topics (PARLOR_TOPICS), and how many a thing and a person may carry."""
    return interests.topics(s)


@router.get("/me/interests")
async def my_interests(user: CurrentUser, s: ServicesDep) -> dict[str, Any]:
    return await interests.interests(s, user)


@router.put("/me/interests", responses=errors(400))
async def set_interests(body: InterestsBody, user: CurrentUser, s: ServicesDep) -> dict[str, Any]:
    """Replace your interests: up to 20 of the instance's topics."""
    return await interests.do_set_interests(s, user, body.topics)


# -- clubs -----------------------------------------------------------------------------------------


@router.get("/me/clubs")
async def my_clubs(user: CurrentUser, s: ServicesDep) -> dict[str, Any]:
    """Your clubs and roles, your invitations, and whether you may found a club."""
    return await clubs.mine(s, user)


@router.get("/clubs", responses=errors(400))
async def find(
    user: CurrentUser,
    s: ServicesDep,
    q: Annotated[str | None, Query(max_length=200)] = None,
    topic: Annotated[str | None, Query(max_length=100)] = None,
    limit: Annotated[int, Query(ge=1, le=clubs.LIST_MAX)] = clubs.LIST_DEFAULT,
) -> dict[str, Any]:
    """Clubs by name (a prefix of the name or of one of its words) and/or topic; most members first."""
    return await clubs.find(s, user, q, topic, limit)


@router.post("/clubs", status_code=201, responses=_CLUB_LIMITED)
async def found(body: FoundBody, user: CurrentUser, s: ServicesDep) -> dict[str, Any]:
    return await clubs.do_found(
        s,
        user,
        name=body.name,
        description=body.description,
        rules=body.rules,
        topics=body.topics,
        mode=body.mode,
    )


@router.get("/clubs/{club_id}", responses=errors(404))
async def get(club_id: str, user: CurrentUser, s: ServicesDep) -> dict[str, Any]:
    return await clubs.page(s, user, club_id)


@router.patch("/clubs/{club_id}", responses=_CLUB)
async def update(club_id: str, body: UpdateBody, user: CurrentUser, s: ServicesDep) -> dict[str, Any]:
    return await clubs.do_update(
        s, user, club_id, description=body.description, rules=body.rules, topics=body.topics, mode=body.mode
    )


_IMAGE_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    }
}


@router.put("/clubs/{club_id}/avatar", openapi_extra=_IMAGE_BODY, responses=_CLUB)
async def put_avatar(club_id: str, request: Request, user: CurrentUser, s: ServicesDep) -> dict[str, Any]:
    """The image is the raw body, as for your own avatar (PUT /api/me/avatar)."""
    return await clubs.do_set_avatar(s, user, club_id, await request.body())


@router.delete("/clubs/{club_id}/avatar", responses=_CLUB)
async def delete_avatar(club_id: str, user: CurrentUser, s: ServicesDep) -> dict[str, Any]:
    return await clubs.do_delete_avatar(s, user, club_id)


@router.get(
    "/clubs/{club_id}/avatar",
    response_class=Response,
    responses={200: {"content": {"image/webp": {"schema": {"type": "string", "format": "binary"}}}}},
)
async def get_avatar(club_id: str, request: Request, _user: CurrentUser, s: ServicesDep) -> Response:
    sha256, image = await clubs.avatar(s, club_id)
    etag = f'"{sha256}"'
    current = request.query_params.get("v") == sha256[:16]
    headers = {
        "ETag": etag,
        "Cache-Control": "private, max-age=31536000, immutable" if current else "private, no-cache",
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'",
        "Cross-Origin-Resource-Policy": "same-origin",
    }
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return Response(image, media_type="image/webp", headers=headers)


# -- membership ------------------------------------------------------------------------------------


@router.post("/clubs/{club_id}/join", responses=_CLUB)
async def join(club_id: str, user: CurrentUser, s: ServicesDep) -> dict[str, Any]:
    """Open: you are a member. By approval: your request waits. Invite-only: 403 club_invite_only."""
    return await club_members.do_join(s, user, club_id)


@router.post("/clubs/{club_id}/follow", responses=_CLUB)
async def follow(club_id: str, user: CurrentUser, s: ServicesDep) -> dict[str, Any]:
    return await club_members.do_follow(s, user, club_id)


@router.post("/clubs/{club_id}/leave", responses=_CLUB)
async def leave(club_id: str, user: CurrentUser, s: ServicesDep) -> dict[str, Any]:
    """Leave, unfollow, or withdraw your join request."""
    return await club_members.do_leave(s, user, club_id)


@router.post("/clubs/{club_id}/invitation/accept", responses=_CLUB)
async def accept_invitation(club_id: str, user: CurrentUser, s: ServicesDep) -> dict[str, Any]:
    return await club_members.do_accept_invite(s, user, club_id)


@router.post("/clubs/{club_id}/invitation/decline", responses=_CLUB)
async def decline_invitation(club_id: str, user: CurrentUser, s: ServicesDep) -> dict[str, Any]:
    return await club_members.do_decline_invite(s, user, club_id)


@router.post("/clubs/{club_id}/invites", responses=_CLUB_LIMITED)
async def invite(club_id: str, body: UsernameBody, user: CurrentUser, s: ServicesDep) -> dict[str, Any]:
    """An admin or a leader invites a member by username."""
    return await club_members.do_invite(s, user, club_id, body.username)


@router.post("/clubs/{club_id}/nominations", responses=_CLUB_LIMITED)
async def nominate(club_id: str, body: UsernameBody, user: CurrentUser, s: ServicesDep) -> dict[str, Any]:
    """A member nominates someone; an admin of the club approves."""
    return await club_members.do_nominate(s, user, club_id, body.username)


@router.post("/clubs/{club_id}/requests/{request_id}/approve", responses=_CLUB)
async def approve(club_id: str, request_id: str, user: CurrentUser, s: ServicesDep) -> dict[str, Any]:
    return await club_members.do_answer(s, user, club_id, request_id, True)


@router.post("/clubs/{club_id}/requests/{request_id}/decline", responses=_CLUB)
async def decline(club_id: str, request_id: str, user: CurrentUser, s: ServicesDep) -> dict[str, Any]:
    return await club_members.do_answer(s, user, club_id, request_id, False)


@router.put("/clubs/{club_id}/members/{user_id}", responses=_CLUB)
async def set_role(club_id: str, user_id: str, body: RoleBody, user: CurrentUser, s: ServicesDep) -> dict[str, Any]:
    """An admin of the club makes a member admin, leader or member."""
    return await club_members.do_set_role(s, user, club_id, user_id, body.role)


@router.delete("/clubs/{club_id}/members/{user_id}", responses=_CLUB)
async def remove(club_id: str, user_id: str, user: CurrentUser, s: ServicesDep) -> dict[str, Any]:
    """An admin of the club removes a member or a follower."""
    return await club_members.do_remove(s, user, club_id, user_id)
