"""People routes: profiles, follows, blocks, follow lists, search.

Each per-person route exists twice: `/api/users/{username}/…` and
`/api/users/id/{user_id}/…` ("id" is not a valid username, so they never clash).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from parlor.actions import social
from parlor.actions.social import UserRef
from parlor.transport.http.auth import CurrentUser, ServicesDep
from parlor.transport.http.openapi import errors

router = APIRouter(prefix="/api", tags=["people"])

Limit = Annotated[int, Query(ge=1, le=social.PAGE_MAX)]
Cursor = Annotated[str | None, Query(max_length=200)]


def _person_routes(path: str, by_id: bool) -> None:
    """Register the per-person routes under `path` (whose one parameter is `who`)."""

    def ref(who: str) -> UserRef:
        return UserRef(who, by_id=by_id)

    suffix = "_by_id" if by_id else ""

    async def get_profile(who: str, user: CurrentUser, s: ServicesDep) -> dict[str, Any]:
        return await social.profile(s, user, ref(who))

    async def follow(who: str, user: CurrentUser, s: ServicesDep) -> dict[str, Any]:
        return await social.do_follow(s, user, ref(who))

    async def unfollow(who: str, user: CurrentUser, s: ServicesDep) -> dict[str, Any]:
        return await social.do_unfollow(s, user, ref(who))

    async def block(who: str, user: CurrentUser, s: ServicesDep) -> dict[str, Any]:
        return await social.do_block(s, user, ref(who))

    async def unblock(who: str, user: CurrentUser, s: ServicesDep) -> dict[str, Any]:
        return await social.do_unblock(s, user, ref(who))

    async def followers(
        who: str, user: CurrentUser, s: ServicesDep, limit: Limit = social.PAGE_DEFAULT, cursor: Cursor = None
    ) -> dict[str, Any]:
        return await social.follow_list(s, user, ref(who), "followers", limit, cursor)

    async def following(
        who: str, user: CurrentUser, s: ServicesDep, limit: Limit = social.PAGE_DEFAULT, cursor: Cursor = None
    ) -> dict[str, Any]:
        return await social.follow_list(s, user, ref(who), "following", limit, cursor)

    routes = (
        ("GET", "", get_profile),
        ("POST", "/follow", follow),
        ("DELETE", "/follow", unfollow),
        ("POST", "/block", block),
        ("DELETE", "/block", unblock),
        ("GET", "/followers", followers),
        ("GET", "/following", following),
    )
    for method, tail, endpoint in routes:
        router.add_api_route(
            path + tail,
            endpoint,
            methods=[method],
            name=f"{endpoint.__name__}{suffix}_{method.lower()}",
            responses=errors(403),  # blocked either way
        )


_person_routes("/users/id/{who}", by_id=True)
_person_routes("/users/{who}", by_id=False)


@router.get("/search")
async def search(
    user: CurrentUser,
    s: ServicesDep,
    q: Annotated[str, Query(min_length=1, max_length=200)],
    limit: Annotated[int, Query(ge=1, le=social.SEARCH_MAX)] = social.SEARCH_DEFAULT,
    topic: Annotated[str | None, Query(max_length=100)] = None,
) -> dict[str, Any]:
    return await social.search(s, user, q, limit, topic=topic)
