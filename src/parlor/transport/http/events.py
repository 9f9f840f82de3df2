"""Event routes (docs/API.md, Events): schedule, read, edit, cancel, notify me, start,
calendars. Each route authenticates, parses, calls one action."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Response
from pydantic import BaseModel, Field, StrictBool

from parlor.actions import events
from parlor.transport.http.auth import CurrentUser, ServicesDep
from parlor.transport.http.client_address import ClientAddress
from parlor.transport.http.openapi import errors

router = APIRouter(tags=["events"])

# Generous bounds here; the precise rules (and their codes) are the action's.
_Text = Field(max_length=1000)
_Time = Field(max_length=100)
_Names = Field(max_length=50)
EventId = Annotated[str, Path(min_length=1, max_length=64)]
ICS = "text/calendar; charset=utf-8"
_ICS_RESPONSE: dict[int | str, dict[str, Any]] = {200: {"content": {"text/calendar": {"schema": {"type": "string"}}}}}


class CreateBody(BaseModel):
    title: str = _Text
    description: str = Field(default="", max_length=5000)
    starts_at: str = _Time
    ends_at: str | None = Field(default=None, max_length=100)
    time_zone: str | None = Field(default=None, max_length=200)
    topics: list[Annotated[str, Field(max_length=100)]] = Field(default_factory=list, max_length=50)
    cohosts: list[Annotated[str, Field(max_length=100)]] = Field(default_factory=list, max_length=50)
    club_id: str | None = Field(default=None, max_length=32)


class UpdateBody(BaseModel):
    """Only the fields given change; `ends_at` null removes the end."""

    title: str | None = Field(default=None, max_length=1000)
    description: str | None = Field(default=None, max_length=5000)
    starts_at: str | None = Field(default=None, max_length=100)
    ends_at: str | None = Field(default=None, max_length=100)
    time_zone: str | None = Field(default=None, max_length=200)
    topics: list[Annotated[str, Field(max_length=100)]] | None = Field(default=None, max_length=50)
    cohosts: list[Annotated[str, Field(max_length=100)]] | None = Field(default=None, max_length=50)
    club_id: str | None = Field(default=None, max_length=32)


class NotifyBody(BaseModel):
    on: StrictBool


def _calendar(text: str, filename: str) -> Response:
    return Response(
        text,
        media_type=ICS,
        headers={"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"},
    )


@router.post("/api/events", status_code=201, responses=errors(403, 404, 429))
async def create(body: CreateBody, user: CurrentUser, s: ServicesDep, address: ClientAddress) -> dict[str, Any]:
    return await events.do_create(s, user, body.model_dump(), address=address)


@router.get("/api/events")
async def upcoming(user: CurrentUser, s: ServicesDep) -> dict[str, Any]:
    """Upcoming events for you: hosts you follow first, then everyone's, soonest first."""
    return {"events": await events.upcoming(s, user, events.UPCOMING_LIMIT)}


@router.get("/api/events/{event_id}.ics", response_class=Response, responses=_ICS_RESPONSE)
async def event_ics(event_id: EventId, user: CurrentUser, s: ServicesDep) -> Response:
    return _calendar(await events.ics(s, user, event_id), f"{event_id}.ics")


@router.get("/api/events/{event_id}")
async def get_event(event_id: EventId, user: CurrentUser, s: ServicesDep) -> dict[str, Any]:
    return await events.get(s, user, event_id)


@router.patch("/api/events/{event_id}", responses=errors(403, 404, 409))
async def update(event_id: EventId, body: UpdateBody, user: CurrentUser, s: ServicesDep) -> dict[str, Any]:
    return await events.do_update(s, user, event_id, body.model_dump(exclude_unset=True))


@router.post("/api/events/{event_id}/cancel", responses=errors(403, 409))
async def cancel(event_id: EventId, user: CurrentUser, s: ServicesDep) -> dict[str, Any]:
    return await events.do_cancel(s, user, event_id)


@router.put("/api/events/{event_id}/notify", responses=errors(409))
async def notify(event_id: EventId, body: NotifyBody, user: CurrentUser, s: ServicesDep) -> dict[str, Any]:
    """Turn "notify me" on or off for this event."""
    return await events.do_set_notify(s, user, event_id, body.on)


@router.post("/api/events/{event_id}/start", responses=errors(403, 409, 429))
async def start(event_id: EventId, user: CurrentUser, s: ServicesDep, address: ClientAddress) -> dict[str, Any]:
    return await events.do_start(s, user, event_id, address=address)


@router.get("/api/users/{username}/events")
async def person_events(
    username: Annotated[str, Path(min_length=1, max_length=64)], user: CurrentUser, s: ServicesDep
) -> dict[str, Any]:
    return {"events": await events.upcoming_of(s, user, username)}


@router.get("/api/me/calendar")
async def calendar_status(user: CurrentUser, s: ServicesDep) -> dict[str, Any]:
    return await events.feed_status(s, user)


@router.post("/api/me/calendar", status_code=201)
async def calendar_make(user: CurrentUser, s: ServicesDep) -> dict[str, Any]:
    """A new private calendar URL (shown once); an older one stops working."""
    return await events.do_make_feed(s, user)


@router.delete("/api/me/calendar", status_code=204, responses=errors(404))
async def calendar_revoke(user: CurrentUser, s: ServicesDep) -> Response:
    await events.do_revoke_feed(s, user)
    return Response(status_code=204)


@router.get("/calendar/{secret}.ics", response_class=Response, responses=_ICS_RESPONSE)
async def calendar_feed(secret: Annotated[str, Path(min_length=1, max_length=100)], s: ServicesDep) -> Response:
    """A person's private feed: no sign-in, the secret in the URL is the key."""
    return _calendar(await events.feed_ics(s, secret), "parlor.ics")
