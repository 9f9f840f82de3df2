"""Framing of the control channel between the worker pool and one media worker.

Each message is a JSON object behind a 4-byte big-endian length. Three shapes:

    pool → worker request       {"id": 7, "op": "open_peer", ...}   answered by one response
    pool → worker notification  {"op": "set_audible", ...}          (no id, no answer)
    worker → pool response      {"id": 7, "ok": true, "result": ...}
                                {"id": 7, "ok": false, "error": "...", "media": true, "gone": false}
    worker → pool event         {"ev": "levels" | "hello" | "stats" | "gone", ...}
"""

from __future__ import annotations

import asyncio
import json
import struct
from typing import Any

MAX_MESSAGE = 4 * 1024 * 1024
_LENGTH = struct.Struct("!I")


class ControlError(Exception):
    """The other side sent something that is not a control message."""


def frame(message: dict[str, Any]) -> bytes:
    body = json.dumps(message, separators=(",", ":")).encode()
    if len(body) > MAX_MESSAGE:
        raise ControlError(f"control message too large ({len(body)} bytes)")
    return _LENGTH.pack(len(body)) + body


async def read_message(reader: asyncio.StreamReader) -> dict[str, Any] | None:
    """The next message, or None at a clean end of stream."""
    try:
        head = await reader.readexactly(_LENGTH.size)
    except asyncio.IncompleteReadError as exc:
        if exc.partial:
            raise ControlError("truncated length") from exc
        return None
    (length,) = _LENGTH.unpack(head)
    if length > MAX_MESSAGE:
        raise ControlError(f"control message too large ({length} bytes)")
    try:
        body = await reader.readexactly(length)
    except asyncio.IncompleteReadError as exc:
        raise ControlError("truncated message") from exc
    try:
        message = json.loads(body)
    except ValueError as exc:
        raise ControlError("control message is not JSON") from exc
    if not isinstance(message, dict):
        raise ControlError("control message is not an object")
    return message
