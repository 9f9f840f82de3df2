"""Who in a room has a poor link, for the connection indicator by their avatar.

Two sources: the server's own view (a client's socket has sent nothing, not even its
heartbeat, for a while: `late`), and the client's (its getStats shows loss, jitter or
a long round trip: `reported`). The room's picture, `{user_id: reason}` of the people
with a poor link, is published as one `links` message when it changes, at most once per
COALESCE_S per room, so a room of thousands costs each client a bounded number of
messages whatever its clients report. The picture lists at most MAX_LISTED people
(the stage first): nobody's screen shows more avatars than that.

Held per node, as the live rooms are.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from parlor import protocol as p
from parlor.actions import background
from parlor.bus.base import room_channel
from parlor.domain.rooms import Participant
from parlor.errors import Code, ParlorError

if TYPE_CHECKING:
    from parlor.actions.services import Services

COALESCE_S = 1.0
MAX_LISTED = 200
LATE, REPORTED = "late", "reported"


@dataclass
class _Room:
    reasons: dict[str, set[str]] = field(default_factory=dict)
    sent: dict[str, str] = field(default_factory=dict)
    sent_at: float = -1e9
    timer: asyncio.TimerHandle | None = None


@dataclass
class LinkBoard:
    rooms: dict[str, _Room] = field(default_factory=dict)

    def mark(self, room_id: str, user_id: str, reason: str, on: bool) -> bool:
        """Note (or clear) a reason; whether anything changed."""
        room = self.rooms.get(room_id)
        if room is None:
            if not on:
                return False
            room = self.rooms[room_id] = _Room()
        if not on and reason not in room.reasons.get(user_id, ()):
            return False
        reasons = room.reasons.setdefault(user_id, set())
        if on:
            reasons.add(reason)
        else:
            reasons.discard(reason)
        if not reasons:
            del room.reasons[user_id]
        return True

    def picture(self, room_id: str, participants: Mapping[str, Participant]) -> dict[str, str]:
        """`{user_id: reason}` for the people still in the room, the stage first, at most
        MAX_LISTED; forgets those who left. Costs what the poor links number, not the
        room: a socket going late in a room of 5,000 must not walk the 5,000."""
        room = self.rooms.get(room_id)
        if room is None:
            return {}
        for gone in [u for u in room.reasons if u not in participants]:
            del room.reasons[gone]
        ranked = sorted(room.reasons, key=lambda u: (not participants[u].on_stage, u))[:MAX_LISTED]
        return {u: LATE if LATE in room.reasons[u] else REPORTED for u in ranked}

    def current(self, room_id: str) -> dict[str, str]:
        room = self.rooms.get(room_id)
        return dict(room.sent) if room is not None else {}

    def forget(self, room_id: str) -> None:
        room = self.rooms.pop(room_id, None)
        if room is not None and room.timer is not None:
            room.timer.cancel()


def message(room_id: str, poor: dict[str, str]) -> dict[str, Any]:
    """The bus message; `text` is the socket message, serialized once for every subscriber."""
    return {
        "name": "links",
        "data": {"room_id": room_id, "poor": poor},
        "text": p.Links(room_id=room_id, poor=poor).to_json(),
    }


def current_text(s: Services, room_id: str) -> str | None:
    """The socket message telling a (re)subscribing client whose link is poor, if anyone's is."""
    poor = s.links.current(room_id)
    return p.Links(room_id=room_id, poor=poor).to_json() if poor else None


def check_link(s: Services, user_id: str, room_id: str, quality: str) -> None:
    if quality not in p.LINK_QUALITIES:
        raise ParlorError(400, Code.BAD_MESSAGE, f"quality must be one of {', '.join(p.LINK_QUALITIES)}.")
    room = s.live.get(room_id)
    if room is None or user_id not in room.participants:
        raise ParlorError(403, Code.NOT_IN_ROOM, "Join the room first.")


def do_report(s: Services, user_id: str, room_id: str, quality: str) -> None:
    """The user's client says how its link looks."""
    check_link(s, user_id, room_id, quality)
    if s.links.mark(room_id, user_id, REPORTED, quality == "poor"):
        _flush(s, room_id)


def do_socket_late(s: Services, user_id: str, room_ids: list[str], late: bool) -> None:
    """A socket of the user has gone quiet past its heartbeat (or spoke again)."""
    for room_id in room_ids:
        if s.links.mark(room_id, user_id, LATE, late):
            _flush(s, room_id)


def _flush(s: Services, room_id: str) -> None:
    live = s.live.get(room_id)
    if live is None:
        s.links.forget(room_id)
        return
    room = s.links.rooms.get(room_id)
    if room is None:
        return
    loop = asyncio.get_running_loop()
    poor = s.links.picture(room_id, live.participants)
    if poor == room.sent:
        return
    wait = room.sent_at + COALESCE_S - loop.time()
    if wait > 0:
        if room.timer is None:

            def fire() -> None:
                room.timer = None
                _flush(s, room_id)

            room.timer = loop.call_later(wait, fire)
        return
    room.sent, room.sent_at = poor, loop.time()
    background.spawn(s.bus.publish(room_channel(room_id), message(room_id, poor)))
    if not room.reasons and room.timer is None:
        # Nobody poor and the all-clear sent: nothing left to remember for the room.
        s.links.rooms.pop(room_id, None)

