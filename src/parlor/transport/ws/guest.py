"""The guests' socket, `/ws/guest`: the members' socket (transport/ws/endpoint.py) for a
guest, found by their cookie (transport/http/guest_auth.py) instead of a session.

The same messages, queue, resume and presence as a member's socket; the room
actions it reaches check what a guest may do. When the guest is out of their room
(left, removed, the room ended, guests turned off) the guest is forgotten and the
socket closes after telling them (`room.you` with no participant).
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, WebSocket

from parlor.actions import guests
from parlor.actions.guest_book import Guest
from parlor.actions.services import Services
from parlor.bus.base import user_channel
from parlor.transport.http.auth import _origin_of
from parlor.transport.http.guest_auth import guest_token
from parlor.transport.ws.endpoint import CLOSE_POLICY, ClientSocket, serve
from parlor.transport.ws.queues import SIGNED_OUT, EventQueue, QueueRegistry

logger = logging.getLogger(__name__)

router = APIRouter()


class GuestSocket(ClientSocket):
    def __init__(self, ws: WebSocket, s: Services, registry: QueueRegistry, guest: Guest) -> None:
        super().__init__(ws, s, registry, guest.as_user(), guest.token_hash)
        self.guest = guest

    async def _session_still_valid(self) -> bool:
        return self.s.live.guests.get(self.guest.id) is self.guest

    def _follow_user(self, queue: EventQueue) -> None:
        super()._follow_user(queue)

        def on_out(message: dict[str, Any]) -> None:
            # After the members' handler queued `room.you` (subscribed first): out of
            # the room is the end of this guest.
            if message["name"] == "room.you" and message["data"]["participant"] is None:
                queue.send(SIGNED_OUT)

        queue.other.append(self.s.bus.subscribe(user_channel(queue.user_id), on_out))


@router.websocket("/ws/guest")
async def guest_socket(ws: WebSocket) -> None:
    s: Services = ws.app.state.services
    registry: QueueRegistry = ws.app.state.queues
    guest = guests.authenticate(s, guest_token(ws.cookies))
    if guest is None:
        await ws.close(CLOSE_POLICY, "not a guest")
        return
    # Cross-site WebSocket hijacking: browsers send the cookie from any page.
    origin = ws.headers.get("origin")
    host = ws.headers.get("host", "")
    if origin and _origin_of(origin) not in {f"http://{host}".lower(), f"https://{host}".lower()}:
        await ws.close(CLOSE_POLICY, "cross-origin")
        return
    await ws.accept()
    await serve(GuestSocket(ws, s, registry, guest), s, registry)
