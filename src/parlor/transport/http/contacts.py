"""HTTP routes: private contact matching (docs/API.md, "Contact matching").

Lookups carry their prefixes in the body, never in the URL, so access logs hold none.
Waitlisted people name their entry with the `X-Waitlist-Token` header.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Response
from pydantic import BaseModel, StrictInt

from parlor.actions import contacts
from parlor.actions.contacts import Owner
from parlor.errors import Code, ParlorError
from parlor.transport.http.auth import CurrentUser, MaybeUser, ServicesDep
from parlor.transport.http.openapi import errors

router = APIRouter(prefix="/api/contacts", tags=["contacts"])

WaitlistToken = Annotated[str | None, Header(alias="X-Waitlist-Token", max_length=200)]


async def waitlist_owner(s: ServicesDep, token: WaitlistToken = None) -> Owner:
    if not token:
        raise ParlorError(401, Code.INVALID_WAITLIST_TOKEN, "Send your waitlist token (X-Waitlist-Token).")
    return await contacts.waitlisted(s, token)


WaitlistOwner = Annotated[Owner, Depends(waitlist_owner)]


class IdentifierBody(BaseModel):
    kind: str
    hash: str


class MatchBody(BaseModel):
    prefix_bits: StrictInt
    prefixes: list[StrictInt]


class LetInBody(BaseModel):
    entry_id: str


@router.get("/params", responses=errors(401))
async def params(s: ServicesDep, user: MaybeUser, token: WaitlistToken = None) -> dict[str, Any]:
    """For members, and for waitlisted people (their token)."""
    if user is None:
        await waitlist_owner(s, token)
    return await contacts.params(s)


@router.get("/identifiers")
async def identifiers(user: CurrentUser, s: ServicesDep) -> dict[str, Any]:
    return await contacts.identifiers(s, contacts.member(user))


@router.post("/identifiers", status_code=201, responses=errors(409))
async def add_identifier(body: IdentifierBody, user: CurrentUser, s: ServicesDep) -> dict[str, Any]:
    return await contacts.do_add_identifier(s, contacts.member(user), body.kind, body.hash)


@router.delete("/identifiers/{identifier_id}", status_code=204)
async def remove_identifier(identifier_id: str, user: CurrentUser, s: ServicesDep) -> Response:
    await contacts.do_remove_identifier(s, contacts.member(user), identifier_id)
    return Response(status_code=204)


@router.post("/match", responses=errors(409, 429))
async def match(body: MatchBody, user: CurrentUser, s: ServicesDep) -> dict[str, Any]:
    return await contacts.match(s, user, body.prefix_bits, body.prefixes)


@router.post("/let-in", responses=errors(404, 409))
async def let_in(body: LetInBody, user: CurrentUser, s: ServicesDep) -> dict[str, Any]:
    return await contacts.do_let_in(s, user, body.entry_id)


# -- waitlisted people's own findable identifiers -------------------------------------------


@router.get("/waitlist/identifiers", responses=errors(401))
async def waitlist_identifiers(owner: WaitlistOwner, s: ServicesDep) -> dict[str, Any]:
    return await contacts.identifiers(s, owner)


@router.post("/waitlist/identifiers", status_code=201, responses=errors(401, 403, 409))
async def waitlist_add_identifier(body: IdentifierBody, owner: WaitlistOwner, s: ServicesDep) -> dict[str, Any]:
    return await contacts.do_add_identifier(s, owner, body.kind, body.hash)


@router.delete("/waitlist/identifiers/{identifier_id}", status_code=204, responses=errors(401, 403))
async def waitlist_remove_identifier(identifier_id: str, owner: WaitlistOwner, s: ServicesDep) -> Response:
    await contacts.do_remove_identifier(s, owner, identifier_id)
    return Response(status_code=204)
