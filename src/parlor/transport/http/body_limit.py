"""The request-body limit on every HTTP route: the one place bodies are bounded.

A body is refused with 413 before it is read when its Content-Length says it is too
big, and as soon as the bytes counted so far pass the limit when it comes without one
(chunked). Nothing past the limit is ever buffered. The refusal closes the connection
(`Connection: close`), so a client still sending is cut off instead of the server
reading (and discarding) all the rest. Before closing it lingers a little, reading and
dropping up to `DRAIN_BYTES` for up to `DRAIN_S`, as nginx's lingering close does:
closing a socket with unread data makes the kernel reset the connection, and a client
still busy sending (most HTTP libraries) would lose the 413 with it. A client that
reads while it sends (browsers, curl) has the answer at once and can stop.

Each route gets the default limit (`Settings.body_max_bytes`) unless it has its own,
larger one (the avatar upload: `Settings.avatar_max_bytes`, with its own error code).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from dataclasses import dataclass

from fastapi import Request
from fastapi.responses import JSONResponse
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from parlor.errors import Code

DRAIN_BYTES = 1024 * 1024
DRAIN_S = 1.0


@dataclass(frozen=True)
class Limit:
    max_bytes: int
    code: Code = Code.BODY_TOO_LARGE
    what: str = "A request body"


class BodyTooLarge(HTTPException):
    """Raised from `receive` when a body passes its limit. An HTTPException, so that
    FastAPI's body parsing passes it on instead of turning it into a 400."""

    def __init__(self, limit: Limit) -> None:
        super().__init__(413, f"{limit.what} is at most {limit.max_bytes:,} bytes.")
        self.limit = limit


def too_large_response(limit: Limit) -> JSONResponse:
    message = f"{limit.what} is at most {limit.max_bytes:,} bytes."
    return JSONResponse({"error": {"code": limit.code.value, "message": message}}, status_code=413)


async def handle_too_large(_request: Request, exc: Exception) -> JSONResponse:
    """The exception handler (errors.install): the route read past the limit."""
    assert isinstance(exc, BodyTooLarge)
    return too_large_response(exc.limit)


async def _drain(receive: Receive) -> None:
    """Read and drop what the client is still sending, within a budget (lingering close)."""
    dropped = 0
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(DRAIN_S):
            while dropped <= DRAIN_BYTES:
                message = await receive()
                if message["type"] != "http.request":
                    return
                dropped += len(message.get("body", b""))
                if not message.get("more_body", False):
                    return


class BodyLimit:
    """ASGI middleware: `routes` maps (METHOD, path) to a route's own limit; a `*`
    segment in a path stands for any one segment (`/api/clubs/*/avatar`)."""

    def __init__(self, app: ASGIApp, default: Limit, routes: Mapping[tuple[str, str], Limit] | None = None) -> None:
        self.app = app
        self.default = default
        self.routes = {key: limit for key, limit in (routes or {}).items() if "*" not in key[1]}
        self.patterns = [
            (method, path.split("/"), limit) for (method, path), limit in (routes or {}).items() if "*" in path
        ]

    def limit_for(self, method: str, path: str) -> Limit:
        found = self.routes.get((method, path))
        if found is not None:
            return found
        parts = path.split("/")
        for want, pattern, limit in self.patterns:
            if (
                want == method
                and len(pattern) == len(parts)
                and all(p in ("*", q) for p, q in zip(pattern, parts, strict=True))
            ):
                return limit
        return self.default

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["method"], scope["path"])
        refused = False
        started = False

        async def refusing_send(message: Message) -> None:
            """Send the 413 with `Connection: close`, and linger before its last byte
            (uvicorn closes the connection right after it)."""
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message = {**message, "headers": [*message.get("headers", []), (b"connection", b"close")]}
            elif message["type"] == "http.response.body" and not message.get("more_body", False):
                await send({**message, "more_body": True})
                await _drain(receive)
                message = {"type": "http.response.body", "body": b"", "more_body": False}
            await send(message)

        declared = Headers(scope=scope).get("content-length", "")
        if declared.strip().isdigit() and int(declared) > limit.max_bytes:
            await too_large_response(limit)(scope, receive, refusing_send)
            return

        received = 0

        async def counted_receive() -> Message:
            nonlocal received, refused
            if refused:
                raise BodyTooLarge(limit)
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit.max_bytes:
                    refused = True
                    raise BodyTooLarge(limit)
            return message

        async def watched_send(message: Message) -> None:
            nonlocal started
            if refused:
                await refusing_send(message)
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted_receive, watched_send)
        except BodyTooLarge:
            # Read outside any route's exception handling (or the route let it through).
            if started:
                raise
            await too_large_response(limit)(scope, receive, refusing_send)
