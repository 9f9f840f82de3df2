"""Embedding rooms on other sites (docs/API.md, Embedding).

Which sites may frame `/embed/room/<id>` and `/embed/r/<name>` (a guest room): the admin's list (the instance fact
`embed_origins`, a JSON list) when one was set, else the `embed_origins` setting;
an empty list turns embedding off. Only rooms anyone may join are embeddable
(domain/embedding.py `embeddable`), and a page that is not signed in sees a preview
(title, stage, listener count) of them.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from parlor.actions import guests
from parlor.actions.growth import check_admin
from parlor.actions.guest_book import Guest
from parlor.actions.room_lookup import check_room
from parlor.actions.rooms import person_view
from parlor.actions.services import Services
from parlor.domain import guests as guest_rules
from parlor.domain.embedding import MAX_ORIGINS, embeddable, parse_origins
from parlor.domain.rooms import Room
from parlor.domain.users import User
from parlor.errors import Code, ParlorError, bad_input
from parlor.storage import accounts as account_store
from parlor.storage import admin_audit
from parlor.storage import rooms as room_store

logger = logging.getLogger(__name__)

ORIGINS_KEY = "embed_origins"


async def _fact(s: Services) -> tuple[str, ...] | None:
    async with s.db.engine.connect() as conn:
        raw = await account_store.get_fact(conn, ORIGINS_KEY)
    if raw is None:
        return None
    try:
        value = json.loads(raw)
    except ValueError:
        return None
    return parse_origins([str(v) for v in value]) if isinstance(value, list) else None


async def allowed_origins(s: Services) -> tuple[str, ...]:
    """The sites that may embed rooms now (empty: embedding is off)."""
    fact = await _fact(s)
    return s.settings.embed_origins if fact is None else fact


async def embed_settings(s: Services, actor: User) -> dict[str, Any]:
    check_admin(actor)
    fact = await _fact(s)
    return {
        "origins": list(s.settings.embed_origins if fact is None else fact),
        "source": "setting" if fact is None else "admin",
        "setting": list(s.settings.embed_origins),
    }


async def do_set_origins(s: Services, actor: User, origins: list[str] | None) -> dict[str, Any]:
    """Set the list (an empty list turns embedding off), or None: back to the setting."""
    check_admin(actor)
    parsed = None if origins is None else parse_origins(origins)
    if origins is not None and parsed is None:
        raise bad_input(f"List at most {MAX_ORIGINS} origins like https://example.org (no path, no wildcard).")
    async with s.db.engine.begin() as conn:
        if parsed is None:
            await account_store.delete_fact(conn, ORIGINS_KEY)
        else:
            await account_store.set_fact(conn, ORIGINS_KEY, json.dumps(list(parsed)))
        await room_store.audit(conn, now=s.clock(), actor_id=actor.id, action="embed_origins.set")
        detail = "the server setting" if parsed is None else (", ".join(parsed) or "none (off)")
        await admin_audit.record(conn, now=s.clock(), actor_id=actor.id, action="embed_origins.set", detail=detail)
    logger.info("embed origins set by %s (%s)", actor.id, "reset" if parsed is None else f"{len(parsed)} sites")
    return await embed_settings(s, actor)


async def page_status(s: Services, room_id: str) -> tuple[tuple[str, ...], int]:
    """For serving the embed page: who may frame it, and its HTTP status (the page
    itself explains a missing or ended room)."""
    origins = await allowed_origins(s)
    try:
        _check_embeddable(await check_room(s, room_id))
    except ParlorError as exc:
        return origins, exc.status
    return origins, 200


def _check_embeddable(room: Room) -> Room:
    if not embeddable(room):
        raise ParlorError(403, Code.ROOM_NOT_EMBEDDABLE, "Only rooms open to everyone can be embedded.")
    return room


async def _check_on(s: Services) -> tuple[str, ...]:
    origins = await allowed_origins(s)
    if not origins:
        raise ParlorError(403, Code.EMBEDDING_OFF, "Embedding rooms is off on this instance.")
    return origins


def _room_preview(s: Services, room: Room) -> dict[str, Any]:
    stage = sorted((p for p in room.participants.values() if p.on_stage), key=lambda p: (p.joined_at, p.user_id))
    return {
        "id": room.id,
        "title": room.title,
        "hand_raise": room.hand_raise.value,
        "encrypted": room.encrypted,
        "listener_count": sum(1 for p in room.participants.values() if not p.on_stage),
        "stage": [person_view(s, p) for p in stage],
    }


async def room_preview(s: Services, room_id: str) -> dict[str, Any]:
    """What an embed shows before (and while) its viewer takes part, and the origins
    it may post events to. Public: the room must be embeddable and embedding on."""
    origins = await _check_on(s)
    room = _check_embeddable(await check_room(s, room_id))
    return {"room": _room_preview(s, room), "origins": list(origins)}


async def guest_page_status(s: Services, name: str) -> tuple[tuple[str, ...], int]:
    """As page_status, for a guest room's embed: a bad name is 400, guest rooms off 403
    (a guest room that is not live is no error: the first to come in opens it)."""
    origins = await allowed_origins(s)
    try:
        guest_rules.room_key(name)
        await guests.check_guests_on(s)
    except ParlorError as exc:
        return origins, exc.status
    return origins, 200


async def guest_room_preview(s: Services, name: str) -> dict[str, Any]:
    """A guest room's embed preview: as room_preview, with `name` and `live`; a room
    not live yet has no id and an empty stage."""
    origins = await _check_on(s)
    status = await guests.guest_room_status(s, name)
    room = s.live.get(status["room_id"]) if status["live"] else None
    if room is None:
        shown: dict[str, Any] = {
            "id": None,
            "title": name,
            "hand_raise": "everyone",
            "encrypted": status["encrypted"],
            "listener_count": 0,
            "stage": [],
        }
    else:
        shown = _room_preview(s, room)
    return {"room": {**shown, "name": status["name"], "live": room is not None}, "origins": list(origins)}


async def do_enter_guest_room(
    s: Services, name: str, display_name: str, *, address: str | None
) -> tuple[Guest, str, Room]:
    """Come into a guest room from its embed (actions/guests.py), while embedding is on."""
    await _check_on(s)
    return await guests.do_enter_guest_room(s, name, display_name, address=address)
