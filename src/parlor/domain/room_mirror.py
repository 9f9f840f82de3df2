"""A live room's state as JSON, for the copy a cluster keeps beside its owner node
(actions/room_takeover.py): another node rebuilds the same stage, hands, mutes and
moderators from it when the owner dies. Guests are left out: nothing of a guest leaves
the node it is on (domain/guests.py), so a guest comes back in as a new one."""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

from parlor.domain.rooms import HandRaise, Participant, Role, Room, RoomKind, is_guest

FORMAT = 1


def to_json(room: Room) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "id": room.id,
        "title": room.title,
        "created_by": room.created_by,
        "created_at": room.created_at,
        "kind": room.kind.value,
        "hand_raise": room.hand_raise.value,
        "capacity": room.capacity,
        "participants": [
            {
                "user_id": p.user_id,
                "role": p.role.value,
                "joined_at": p.joined_at,
                "stage_since": p.stage_since,
                "hand_raised": p.hand_raised,
                "self_muted": p.self_muted,
                "mute_locked": p.mute_locked,
                "speak_invite": p.speak_invite,
                "public_key": p.public_key,
                "keyed_since": p.keyed_since,
            }
            for p in room.participants.values()
            if not is_guest(p.user_id)
        ],
        "blocked": sorted(room.blocked),
        "invited": sorted(u for u in room.invited if not is_guest(u)),
        "hosts": sorted(room.hosts),
        "guests_allowed": room.guests_allowed,
        "open_stage": room.open_stage,
        "topics": list(room.topics),
        "club_id": room.club_id,
        "club_name": room.club_name,
        "members_only": room.members_only,
        "encrypted": room.encrypted,
        "version": room.version,
    }


def from_json(data: dict[str, Any]) -> Room:
    """The room as mirrored; ValueError for a mirror this version cannot read."""
    if data.get("format") != FORMAT:
        raise ValueError(f"unknown room mirror format {data.get('format')!r}")
    participants = {
        p["user_id"]: Participant(
            user_id=str(p["user_id"]),
            role=Role(p["role"]),
            joined_at=float(p["joined_at"]),
            stage_since=None if p["stage_since"] is None else float(p["stage_since"]),
            hand_raised=bool(p["hand_raised"]),
            self_muted=bool(p["self_muted"]),
            mute_locked=bool(p["mute_locked"]),
            speak_invite=bool(p["speak_invite"]),
            # absent from a mirror written before encrypted rooms (a node not yet upgraded)
            public_key=None if p.get("public_key") is None else str(p["public_key"]),
            keyed_since=None if p.get("keyed_since") is None else float(p["keyed_since"]),
        )
        for p in data["participants"]
    }
    return Room(
        id=str(data["id"]),
        title=str(data["title"]),
        created_by=str(data["created_by"]),
        created_at=float(data["created_at"]),
        kind=RoomKind(data["kind"]),
        hand_raise=HandRaise(data["hand_raise"]),
        capacity=int(data["capacity"]),
        participants=MappingProxyType(participants),
        blocked=frozenset(data["blocked"]),
        invited=frozenset(data["invited"]),
        hosts=frozenset(data["hosts"]),
        guests_allowed=bool(data["guests_allowed"]),
        open_stage=bool(data["open_stage"]),
        topics=tuple(data["topics"]),
        club_id=data["club_id"],
        club_name=str(data["club_name"]),
        members_only=bool(data["members_only"]),
        encrypted=bool(data.get("encrypted", False)),
        version=int(data["version"]),
    )
