"""Media routes: the ICE servers (TURN) a client's RTCPeerConnection should use."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from parlor.actions import ice
from parlor.transport.http.auth import ServicesDep
from parlor.transport.http.guest_auth import AnyPrincipal

router = APIRouter(prefix="/api/media", tags=["media"])


@router.get("/ice-servers")
async def ice_servers(user: AnyPrincipal, s: ServicesDep, response: Response) -> dict[str, Any]:
    """`{"ice_servers": [{urls, username, credential}], "ttl_s"}`; fetch again before it expires."""
    response.headers["Cache-Control"] = "no-store"
    return ice.ice_servers(s, user)
