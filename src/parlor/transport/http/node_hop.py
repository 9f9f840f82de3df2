"""HTTP requests for a room that another node of the cluster runs: forwarded there whole.

Any node may take any request (the load balancer spreads them); a room's live state is
on one node (actions/room_owner.py). A request whose path names a room another node runs
is sent on to that node as it came (method, path, body, cookies, Origin) and its answer
returned as that node gave it. A request that only finds out inside (a route that
reaches the room by another way) is answered `421` with the owner's address by the
error handler, and forwarded then. A forwarded request carries the client's address
and a signature (cluster/hop.py): the node that gets one believes that address, and
never forwards it again (two nodes that disagree on a room's owner while it moves
answer `room_moving`, and the client asks again in a moment).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable

import httpx
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from parlor.actions import room_ops, room_owner
from parlor.actions.services import Services
from parlor.cluster import hop
from parlor.errors import Code, ParlorError
from parlor.transport.http.errors import error_response

logger = logging.getLogger(__name__)

HOP_HEADER = "x-parlor-hop"
CLIENT_HEADER = "x-parlor-client"
# Paths that name a room: the room's node answers them.
_ROOM_PATH = re.compile(r"^/api/(?:rooms|embed/rooms|guest/rooms)/([A-Za-z0-9_-]{1,32})(?:/|$)")
# Not passed on in either direction: they describe one connection, not the message.
_HOP_BY_HOP = frozenset(
    {b"connection", b"keep-alive", b"transfer-encoding", b"upgrade", b"te", b"trailer", b"proxy-connection",
     b"content-length", HOP_HEADER.encode(), CLIENT_HEADER.encode()}
)


router = APIRouter(include_in_schema=False)


@router.post(room_ops.PATH)
async def room_op(request: Request) -> JSONResponse:
    """Another node asks, for a socket of its own, what only this room's node can answer."""
    s: Services = request.app.state.services
    if not s.settings.redis_url:
        raise ParlorError(404, Code.NOT_FOUND, "Not found.")
    answer = await room_ops.do_answer(s, await request.body(), request.headers.get(room_ops.SIGNATURE_HEADER, ""))
    return JSONResponse(answer)


class NodeHop:
    def __init__(self, app: ASGIApp, services: Callable[[], Services]) -> None:
        self.app = app
        self.services = services

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        s = self.services()
        if scope["type"] != "http" or not s.settings.redis_url:
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        token = headers.get(HOP_HEADER)
        if token is not None:
            client = headers.get(CLIENT_HEADER, "")
            if hop.verify(s.nodes.key, token, s.clock(), scope["method"], scope["path"], client):
                # From another node: the client's address is the one it saw. Answered here.
                scope = {**scope, "client": (client, 0) if client else None}
                await self.app(scope, receive, send)
                return
            # Not signed by a node: the headers mean nothing (and are not passed on).
        if not scope["path"].startswith("/api/"):
            await self.app(scope, receive, send)
            return
        body = await _read_body(receive)
        if body is None:
            return  # the client went away
        found = _ROOM_PATH.match(scope["path"])
        if found is not None:
            target = await room_owner.owner_url(s, found.group(1))
            if target is not None:
                await self._forward(s, scope, body, target, send)
                return
        target = await self._answer_here(scope, body, send)
        if target is not None:
            await self._forward(s, scope, body, target, send)

    async def _answer_here(self, scope: Scope, body: bytes, send: Send) -> str | None:
        """Run the request here; the owner's address if the answer was "another node"
        (nothing was sent then)."""
        sent = False
        target: str | None = None

        async def replay() -> Message:
            nonlocal sent
            if sent:
                return {"type": "http.disconnect"}
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def capture(message: Message) -> None:
            nonlocal target
            if message["type"] == "http.response.start" and message["status"] == room_owner.MISDIRECTED:
                target = Headers(raw=message["headers"]).get(room_owner.OWNER_HEADER)
            if target is None:
                await send(message)

        await self.app(scope, replay, capture)
        return target

    async def _forward(self, s: Services, scope: Scope, body: bytes, target: str, send: Send) -> None:
        client = scope.get("client")
        address = client[0] if client else ""
        path = scope["path"]
        query = scope.get("query_string", b"").decode("latin-1")
        headers = [(k, v) for k, v in scope["headers"] if k.lower() not in _HOP_BY_HOP]
        headers.append((HOP_HEADER.encode(), hop.sign(s.nodes.key, s.clock(), scope["method"], path, address).encode()))
        headers.append((CLIENT_HEADER.encode(), address.encode()))
        http = s.nodes.client()
        request = http.build_request(
            scope["method"], target + path + (f"?{query}" if query else ""), headers=headers, content=body
        )
        try:
            response = await http.send(request, stream=True)
            try:
                content = b"".join([chunk async for chunk in response.aiter_raw()])
            finally:
                await response.aclose()
        except httpx.HTTPError as exc:
            logger.info("the node running a room did not answer (%s): %s", target, type(exc).__name__)
            await _moving(scope, send)
            return
        if response.status_code == room_owner.MISDIRECTED:
            await _moving(scope, send)  # it says another node runs it: the room is moving
            return
        out = [(k, v) for k, v in response.headers.raw if k.lower() not in _HOP_BY_HOP]
        out.append((b"content-length", str(len(content)).encode()))
        await send({"type": "http.response.start", "status": response.status_code, "headers": out})
        await send({"type": "http.response.body", "body": content, "more_body": False})


async def _read_body(receive: Receive) -> bytes | None:
    parts: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        parts.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(parts)


async def _moving(scope: Scope, send: Send) -> None:
    response = error_response(
        503, Code.ROOM_MOVING, "This room is moving to another server: try again in a moment.", {"Retry-After": "2"}
    )

    async def nothing() -> Message:
        return {"type": "http.disconnect"}

    await response(scope, nothing, send)
