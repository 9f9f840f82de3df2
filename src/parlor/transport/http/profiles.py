"""Profile routes: edit your own profile, upload / remove your avatar, serve avatars.

Only `/api/me/…` writes: there is no route that edits someone else's profile
(admins neither). The avatar is uploaded as the raw request body.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from parlor.actions import profiles, social
from parlor.transport.http.auth import CurrentUser, ServicesDep

router = APIRouter(prefix="/api", tags=["profiles"])


class ProfileBody(BaseModel):
    # Unknown fields (an `id`, a `username`…) are refused, not ignored.
    model_config = ConfigDict(extra="forbid")

    display_name: str | None = Field(default=None, max_length=1000)
    bio: str | None = Field(default=None, max_length=2000)


@router.patch("/me/profile")
async def update_profile(body: ProfileBody, user: CurrentUser, s: ServicesDep) -> dict[str, Any]:
    await profiles.do_update_profile(s, user, display_name=body.display_name, bio=body.bio)
    return await social.my_profile(s, user)


# The avatar is the raw body: documented as such (its Content-Type is not looked at).
_IMAGE_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    }
}


@router.put("/me/avatar", openapi_extra=_IMAGE_BODY)
async def put_avatar(request: Request, user: CurrentUser, s: ServicesDep) -> dict[str, Any]:
    """The image is the raw body (PNG, JPEG, WebP or GIF; its Content-Type is ignored)."""
    # Bounded before it is read: past PARLOR_AVATAR_MAX_BYTES the body-limit middleware
    # answers 413 image_too_large (transport/http/body_limit.py; app.py sets the limit).
    data = await request.body()
    await profiles.do_set_avatar(s, user, data)
    return await social.my_profile(s, user)


@router.delete("/me/avatar")
async def delete_avatar(user: CurrentUser, s: ServicesDep) -> dict[str, Any]:
    await profiles.do_delete_avatar(s, user)
    return await social.my_profile(s, user)


@router.get(
    "/users/id/{user_id}/avatar",
    response_class=Response,
    responses={
        200: {"content": {"image/webp": {"schema": {"type": "string", "format": "binary"}}}, "description": "WebP"},
        304: {"description": "Not modified (If-None-Match)."},
    },
)
async def get_avatar(user_id: str, request: Request, _user: CurrentUser, s: ServicesDep) -> Response:
    sha256, image = await profiles.avatar(s, user_id)
    etag = f'"{sha256}"'
    # A URL naming this version (`?v=`, as profiles give it) never changes: cache it for good.
    current = request.query_params.get("v") == sha256[:16]
    headers = {
        "ETag": etag,
        "Cache-Control": "private, max-age=31536000, immutable" if current else "private, no-cache",
        # Served as an image only, never sniffed, never able to run anything.
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'",
        "Cross-Origin-Resource-Policy": "same-origin",
    }
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return Response(image, media_type=profiles.AVATAR_CONTENT_TYPE, headers=headers)
