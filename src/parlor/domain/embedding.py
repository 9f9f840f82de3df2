"""Which sites may embed rooms: origins as the admin writes them, checked and normalised."""

from __future__ import annotations

import re

from parlor.domain.rooms import Room, RoomKind

MAX_ORIGINS = 20
_ORIGIN = re.compile(r"^(https?)://([a-z0-9.-]+|\[[0-9a-f:.]+\])(?::(\d{1,5}))?$")
_DEFAULT_PORT = {"http": 80, "https": 443}


def normalize_origin(text: str) -> str | None:
    """`scheme://host[:port]` in lower case without a default port, or None when `text`
    is not such an origin (no path, no wildcard, no user info: frame-ancestors and
    postMessage both need the exact origin)."""
    m = _ORIGIN.match(text.strip().lower().rstrip("/"))
    if m is None:
        return None
    scheme, host, port = m.groups()
    if host.startswith(".") or host.endswith(".") or ".." in host:
        return None
    if port is not None:
        number = int(port)
        if not 0 < number < 65536:
            return None
        if number != _DEFAULT_PORT[scheme]:
            return f"{scheme}://{host}:{number}"
    return f"{scheme}://{host}"


def parse_origins(items: list[str] | tuple[str, ...]) -> tuple[str, ...] | None:
    """All normalised, duplicates dropped, in order; None if any one is not an origin
    or there are more than MAX_ORIGINS."""
    out: list[str] = []
    for item in items:
        origin = normalize_origin(item)
        if origin is None:
            return None
        if origin not in out:
            out.append(origin)
    return tuple(out) if len(out) <= MAX_ORIGINS else None


def embeddable(room: Room) -> bool:
    """Whether anyone may see the room in an embed: its preview is public (no sign-in),
    so only a room anyone could join, open to all and not kept to a club's members."""
    return room.kind is RoomKind.OPEN and not room.members_only
