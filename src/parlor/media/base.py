"""What the rest of Parlor sees of the media plane.

The actions layer drives it: it opens a peer when a participant asks for media,
and tells it after every stage change who may be heard. The media plane never
decides permissions itself; it only refuses to forward anyone not in `audible`.
"""

from __future__ import annotations

import abc
from collections.abc import Callable

# room_id, {user_id: loudness 0..1}: the speakers whose quantized level changed (0.0:
# stopped speaking); called only on a change, at most every 250 ms per room and worker
# (media/levels.py).
LevelsCallback = Callable[[str, dict[str, float]], None]


class MediaError(Exception):
    """The client's media request can't be served (bad SDP, unknown peer)."""


class MediaServer(abc.ABC):
    async def start(self) -> None:  # noqa: B027 - optional hook
        """Bring up whatever runs beside this process (e.g. worker processes)."""

    @abc.abstractmethod
    async def open_peer(self, room_id: str, user_id: str) -> str:
        """Create (or replace) the user's connection to the room; return the server's SDP offer."""

    @abc.abstractmethod
    async def accept_answer(self, room_id: str, user_id: str, sdp: str) -> None:
        """Apply the client's SDP answer. Raises MediaError for invalid SDP or no such peer."""

    @abc.abstractmethod
    def set_audible(self, room_id: str, user_ids: frozenset[str]) -> None:
        """From now on forward audio only from these users (current, unmuted speakers)."""

    def set_encrypted(self, room_id: str, encrypted: bool) -> None:  # noqa: B027 - optional hook
        """The room is end-to-end encrypted (docs/E2EE.md): its payloads are SFrame frames,
        not Opus. Say so before its first peer opens; the flag lasts until close_room."""

    @abc.abstractmethod
    async def close_peer(self, room_id: str, user_id: str) -> None:
        """Drop the user's connection, if any."""

    @abc.abstractmethod
    async def close_room(self, room_id: str) -> None:
        """Drop every connection of the room."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Shut down: close every peer connection."""

    @abc.abstractmethod
    def peer_count(self) -> int:
        """Open peer connections (for health and metrics)."""

    def local_peers(self, room_id: str) -> int:
        """Peers of the room served here (a cluster's media nodes: actions/cluster_media.py)."""
        return 0

    def totals(self) -> dict[str, int]:
        """Counters for /metrics: packets `forwarded` to listeners, upstream packets `dropped`."""
        return {}
