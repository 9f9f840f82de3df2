"""Room actions: each applies one domain transition, records it, then tells everyone.

Order inside a room's lock: domain transition (may refuse: nothing changes) →
durable writes in one transaction (audit log, history, blocks) → swap in the new
live state → publish and update the media plane.
"""

from __future__ import annotations

import asyncio
import heapq
import json
import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from parlor.actions import background, cluster_media, limits, notifications, speaking
from parlor.actions.accounts import USERNAME
from parlor.actions.guest_book import audit_id
from parlor.actions.ids import looks_like_id, new_id
from parlor.actions.profiles import avatar_url
from parlor.actions.room_lookup import check_room
from parlor.actions.services import Services
from parlor.bus.base import HALLWAY, room_channel, user_channel
from parlor.cluster.base import LEASE_TTL_S, room_lease
from parlor.domain import clubs as clubs_domain
from parlor.domain import room_mirror
from parlor.domain import rooms as domain
from parlor.domain.rooms import HandRaise, Participant, Room, RoomKind, club_ref, is_guest
from parlor.domain.topics import check_topics
from parlor.domain.users import User
from parlor.errors import Code, ParlorError
from parlor.storage import clubs as club_store
from parlor.storage import hallway as hallway_store
from parlor.storage import profiles as profile_store
from parlor.storage import rooms as store
from parlor.storage import social as social_store

logger = logging.getLogger(__name__)


# Listeners listed in a snapshot besides those with a raised hand or a speak invite
# (DESIGN §3 "Presence at scale"); the rest are paged with GET .../audience.
AUDIENCE_PREVIEW = 50
AUDIENCE_PAGE_MAX = 200


def _order(p: Participant) -> tuple[float, str]:
    return (p.joined_at, p.user_id)


def _flagged(p: Participant) -> bool:
    """Always listed: on stage, or a listener a moderator must see (hand, invite), or
    someone keyed in an encrypted room (every client computes the key leader and wraps
    the room key from the keyed people it holds, docs/E2EE.md §2)."""
    return p.on_stage or p.hand_raised or p.speak_invite or p.public_key is not None


def person_view(s: Services, p: Participant) -> dict[str, Any]:
    """One participant as snapshots, pages and `room.you` show them."""
    if p.guest:
        guest = s.live.guests.get(p.user_id)
        username, shown = "", guest.display_name if guest else "a guest"
    else:
        profile = s.live.profiles.get(p.user_id)
        username = profile.username if profile else ""
        shown = profile.display_name if profile else "a former member"
    return {
        "user_id": p.user_id,
        "username": username,
        "display_name": shown,
        "avatar_url": s.live.avatars.get(p.user_id),
        # A guest has no account (no profile, no follows): clients show a badge.
        "guest": p.guest,
        "role": p.role.value,
        "hand_raised": p.hand_raised,
        "self_muted": p.self_muted,
        "mute_locked": p.mute_locked,
        "speak_invite": p.speak_invite,
        "joined_at": p.joined_at,
        # Encrypted rooms (docs/E2EE.md §7): the person's public key for this visit, and
        # since when the server has it (server time); None until they publish one.
        "public_key": p.public_key,
        "keyed_since": p.keyed_since,
    }


def room_view(s: Services, room: Room) -> dict[str, Any]:
    """The snapshot clients see (docs/API.md): the stage, raised hands and invites,
    and the first AUDIENCE_PREVIEW other listeners by join time."""
    everyone = room.participants.values()
    flagged = [p for p in everyone if _flagged(p)]
    others = len(everyone) - len(flagged)
    preview = heapq.nsmallest(AUDIENCE_PREVIEW, (p for p in everyone if not _flagged(p)), key=_order)
    people = [person_view(s, p) for p in sorted([*flagged, *preview], key=_order)]
    return {
        "id": room.id,
        "title": room.title,
        "kind": room.kind.value,
        "hand_raise": room.hand_raise.value,
        "ended": room.ended,
        "version": room.version,
        "created_by": room.created_by,
        "guest_room": room.guest_room,
        "guests_allowed": room.guests_allowed,
        "open_stage": room.open_stage,
        "topics": list(room.topics),
        "club": club_ref(room),
        "encrypted": room.encrypted,
        "listener_count": sum(1 for p in everyone if not p.on_stage),
        "audience_complete": len(preview) == others,
        "participants": people,
    }


def check_audience_page(s: Services, user: User, room: Room, offset: int, limit: int) -> None:
    if user.id not in room.participants:
        raise ParlorError(403, Code.NOT_IN_ROOM, "Join the room first.")
    if offset < 0 or not 1 <= limit <= AUDIENCE_PAGE_MAX:
        raise ParlorError(
            400, Code.INVALID_INPUT, f"offset must be 0 or more and limit between 1 and {AUDIENCE_PAGE_MAX}."
        )


async def audience_page(s: Services, user: User, room_id: str, offset: int, limit: int) -> dict[str, Any]:
    """A page of the room's listeners (hands raised or not) in join order."""
    room = await check_room(s, room_id)
    check_audience_page(s, user, room, offset, limit)
    listeners = sorted((p for p in room.participants.values() if not p.on_stage), key=_order)
    return {
        "listeners": [person_view(s, p) for p in listeners[offset : offset + limit]],
        "total": len(listeners),
        "offset": offset,
    }


def _hallway_changed(old: Room | None, new: Room) -> bool:
    if (
        old is None
        or new.ended
        or (old.title, old.kind, old.invited, old.topics) != (new.title, new.kind, new.invited, new.topics)
    ):
        return True
    # Moderators too: whether a room shows to someone depends on blocks with its moderators.
    return len(old.participants) != len(new.participants) or {
        (p.user_id, p.role) for p in old.participants.values() if p.on_stage
    } != {(p.user_id, p.role) for p in new.participants.values() if p.on_stage}


def _stage_view(room: Room) -> tuple[object, ...]:
    """What must reach clients at once: settings, the stage, hands and invites."""
    flagged = sorted(
        (p.user_id, p.role, p.self_muted, p.mute_locked, p.hand_raised, p.speak_invite, p.public_key or "")
        for p in room.participants.values()
        if _flagged(p)
    )
    return (room.title, room.kind, room.hand_raise, room.topics, room.ended, tuple(flagged))


def _changed_people(old: Room | None, new: Room) -> list[tuple[str, Participant | None]]:
    """Users whose own record changed, with the new record (None: no longer in the room)."""
    before = old.participants if old is not None else {}
    if new.ended:
        return [(user_id, None) for user_id in {**before, **new.participants}]
    changed: list[tuple[str, Participant | None]] = []
    for user_id, p in new.participants.items():
        was = before.get(user_id)
        if was is not p and was != p:
            changed.append((user_id, p))
    changed += [(user_id, None) for user_id in before if user_id not in new.participants]
    return changed


def media_audible(old: Room | None, new: Room) -> frozenset[str] | None:
    """What the media plane must be told after `old` → `new`: the speakers it may now
    forward (DESIGN §3: only current, unmuted speakers), or None when that is unchanged."""
    if old is None or old.audible_speakers != new.audible_speakers:
        return new.audible_speakers
    return None


async def _announce(s: Services, old: Room | None, new: Room) -> None:
    """Publish the change and bring the media plane in line. Called after commit.

    The snapshot is serialized once here, not once per subscriber; `audience_only`
    tells the socket layer it may coalesce it (DESIGN §3 "Presence at scale").
    """
    if new.ended:
        s.speaking.forget(new.id)
        s.chat.forget(new.id)  # chat lives only as long as the room
        s.reactions.forget(new.id)
        await s.bus.publish(room_channel(new.id), {"name": "room.ended", "data": {"room_id": new.id}})
        await s.media.close_room(new.id)
        await cluster_media.publish_close_room(s, new.id)
    else:
        message = {
            "name": "room.state",
            "data_json": json.dumps(room_view(s, new), separators=(",", ":")),
            "audience_only": old is not None and _stage_view(old) == _stage_view(new),
            "people": len(new.participants),  # how far the socket layer spreads audience changes
        }
        await s.bus.publish(room_channel(new.id), message)
        audible = media_audible(old, new)
        if audible is not None:
            s.media.set_audible(new.id, audible)
            await cluster_media.publish_audible(s, new.id, new.version, audible)
        if old is not None:
            for gone in set(old.participants) - set(new.participants):
                await s.media.close_peer(new.id, gone)
                await cluster_media.publish_close_peer(s, new.id, gone)
    for user_id, p in _changed_people(old, new):
        you = {"room_id": new.id, "version": new.version, "participant": person_view(s, p) if p else None}
        await s.bus.publish(user_channel(user_id), {"name": "room.you", "data": you})
    if not new.guest_room and _hallway_changed(old, new):
        # data_json: serialized here once, not by each of the node's sockets
        await s.bus.publish(HALLWAY, {"name": "hallway.changed", "data": {}, "data_json": "{}"})


async def _transition(
    s: Services,
    room_id: str,
    actor_id: str | None,
    action: str | Callable[[Room, Room], list[str]],
    apply: Callable[[Room], Room],
    *,
    target_id: str | None = None,
    block: bool = False,
) -> Room:
    async with s.live.lock(room_id):
        old = await check_room(s, room_id)
        new = apply(old)
        if new is old:
            return old
        now = s.clock()
        # Nothing of a guest room, nor who a guest is, is ever stored (actions/guests.py):
        # a guest's part in a members' room is audited as "guest".
        if not old.guest_room:
            async with s.db.engine.begin() as conn:
                # One audit entry per change; `action` may name them from the change itself.
                for name in [action] if isinstance(action, str) else action(old, new):
                    await store.audit(
                        conn,
                        now=now,
                        actor_id=audit_id(actor_id),
                        action=name,
                        room_id=room_id,
                        target_id=audit_id(target_id),
                    )
                if block and actor_id and target_id and not is_guest(actor_id) and not is_guest(target_id):
                    await store.block(conn, actor_id, target_id, now)
                if new.title != old.title:
                    await store.set_title(conn, room_id, new.title)
                if new.ended:
                    await store.mark_ended(conn, room_id, now)
        s.live.put(new)
        await do_mirror(s, new)
        await _announce(s, old, new)
    return new


async def do_mirror(s: Services, room: Room) -> None:
    """Keep the cluster's copy of the room in step (one node: nothing to do), so that
    another node can take the room over if this one dies (actions/room_takeover.py)."""
    if room.guest_room:
        return  # nothing of a guest room leaves its node
    if room.ended:
        await s.cluster.drop_room(room.id)
        await s.cluster.release(room_lease(room.id))
    elif s.cluster.keeps_rooms:  # one node keeps no copy: not even made (a big room's join)
        await s.cluster.save_room(room.id, json.dumps(room_mirror.to_json(room), separators=(",", ":")))


async def _remember_avatar(s: Services, conn: AsyncConnection, user_id: str) -> None:
    """Snapshots show avatars from the live cache (actions/profiles.py keeps it current)."""
    sha = (await profile_store.profile_row(conn, user_id)).avatar_sha256
    s.live.avatars[user_id] = avatar_url(user_id, sha) if sha else None


async def do_create_room(
    s: Services,
    user: User,
    title: str,
    kind: RoomKind = RoomKind.OPEN,
    hand_raise: HandRaise = HandRaise.EVERYONE,
    *,
    address: str | None = None,
    topics: object = None,
    club_id: str | None = None,
    members_only: bool = False,
    hosts: frozenset[str] = frozenset(),
    tell_followers: bool = True,
    encrypted: bool = False,
) -> Room:
    """Start a room; with `club_id`, one of that club's rooms (its admins and leaders
    start them), open to everyone or, `members_only`, to the club's members. `hosts`:
    people who come in as moderators (an event's hosts, actions/events.py);
    `tell_followers` False: the caller sends `room_started` itself (an event does);
    `encrypted`: end-to-end encrypted for its whole life (docs/E2EE.md)."""
    now = s.clock()
    domain.clean_title(title)  # the title's refusal first, as for any text field
    checked = check_topics(topics, s.settings.topics) if topics is not None else ()
    club_name = ""
    if club_id is not None:
        async with s.db.engine.connect() as conn:
            club = await club_store.get_club(conn, club_id) if looks_like_id(club_id) else None
            if club is None:
                raise ParlorError(404, Code.CLUB_NOT_FOUND, "There is no such club.")
            clubs_domain.check_start_room(await club_store.role_of(conn, club.id, user.id), archived=club.archived)
        club_name = club.name
    elif members_only:
        raise ParlorError(400, Code.INVALID_INPUT, "Only a club's room can be for its members only.")
    room = domain.create(
        new_id("r"),
        title,
        user.id,
        now,
        kind=kind,
        hand_raise=hand_raise,
        capacity=s.settings.room_capacity,
        hosts=hosts,
        topics=checked,
        club_id=club_id,
        club_name=club_name,
        members_only=members_only,
        encrypted=encrypted,
    )
    await limits.check(s, "room_create", account=user.id, address=address)
    async with s.db.engine.begin() as conn:
        await store.insert_room(conn, room.id, room.title, user.id, now, encrypted=room.encrypted)
        await store.audit(conn, now=now, actor_id=user.id, action="room.create", room_id=room.id)
        await _remember_avatar(s, conn, user.id)
    await s.cluster.acquire(room_lease(room.id), LEASE_TTL_S)
    s.live.profiles[user.id] = user
    s.live.put(room)
    await do_mirror(s, room)
    s.live.arrived(room.id, user.id, now)
    await _announce(s, None, room)
    if tell_followers:
        await notifications.do_room_started(s, user, room)
    return room


async def _admission_facts(s: Services, conn: AsyncConnection, user_id: str, room: Room) -> dict[str, bool]:
    """What `domain.admission_refusal` needs from the database about `user_id` and `room`."""
    moderators = [p.user_id for p in room.moderators]
    blocked = await store.blocked_by_any(conn, user_id, moderators)
    # DESIGN §5: a user block either way keeps them out of each other's rooms.
    blocked = blocked or await social_store.blocked_either_way(conn, user_id, moderators)
    followed = False
    if room.kind is RoomKind.SOCIAL and user_id not in room.invited:
        followed = await hallway_store.followed_by_any(conn, user_id, moderators)
    member = False
    if room.members_only and room.club_id is not None and user_id not in room.participants:
        member = clubs_domain.is_member(await club_store.role_of(conn, room.club_id, user_id))
    return {"blocked_by_moderator": blocked, "followed_by_moderator": followed, "club_member": member}


async def room_for(s: Services, user: User, room_id: str) -> Room:
    """GET /api/rooms/{id}: the room, for someone in it or who may join it.

    Anyone else is told why not (the same refusal joining would give), and sees
    nothing of a room they cannot enter.
    """
    room = await check_room(s, room_id)
    if user.id in room.participants:
        return room
    async with s.db.engine.connect() as conn:
        facts = await _admission_facts(s, conn, user.id, room)
    refusal = domain.admission_refusal(room, user.id, **facts)
    if refusal is not None:
        raise refusal
    return room


async def do_join(s: Services, user: User, room_id: str) -> Room:
    await limits.check(s, "room_join", account=user.id)
    # The facts are read before taking the room's lock: a change of moderators in
    # between is judged on the room the joiner saw.
    room = await check_room(s, room_id)
    async with s.db.engine.connect() as conn:
        facts = await _admission_facts(s, conn, user.id, room)
        await _remember_avatar(s, conn, user.id)
    s.live.profiles[user.id] = user
    now = s.clock()
    new = await _transition(s, room_id, user.id, "room.join", lambda r: domain.join(r, user.id, now, **facts))
    s.live.arrived(room_id, user.id, now)
    return new


async def do_invite_member(s: Services, user: User, room_id: str, username: str) -> Room:
    """A moderator lets a member into a social or closed room; they are told (`room_invite`)."""
    room = await check_room(s, room_id)
    await limits.check(s, "room_invite", account=user.id)
    name = username.strip().lower().removeprefix("@")
    async with s.db.engine.connect() as conn:
        # Anything that is not a username names nobody (and never reaches the database).
        target = await social_store.user_by_username(conn, name) if USERNAME.match(name) else None
        if target is None:
            raise ParlorError(404, Code.USER_NOT_FOUND, "There is no member with that username.")
        rel = await social_store.relation(conn, user.id, target.id)
        facts = await _admission_facts(s, conn, target.id, room)
    if rel["blocks_you"]:
        raise ParlorError(403, Code.BLOCKED_BY_USER, "This person has blocked you.")
    if rel["blocked_by_you"]:
        raise ParlorError(403, Code.USER_BLOCKED, "You blocked this person: unblock them first.")
    if facts["blocked_by_moderator"]:
        raise ParlorError(409, Code.INVALID_TARGET, "They cannot join this room: a moderator and they are blocked.")
    already = target.id in room.invited
    new = await _transition(
        s,
        room_id,
        user.id,
        "room.invite",
        lambda r: domain.invite_member(r, user.id, target.id),
        target_id=target.id,
    )
    if not already and target.id in new.invited:
        await notifications.notify(s, target.id, "room_invite", actor_id=user.id, room_id=room_id)
    return new


async def do_leave(s: Services, user_id: str, room_id: str, *, action: str = "room.leave") -> Room:
    return await _transition(s, room_id, user_id, action, lambda r: domain.leave(r, user_id))


async def do_set_hand(s: Services, user: User, room_id: str, raised: bool) -> Room:
    if raised:
        room = await check_room(s, room_id)
        followed = False
        if room.hand_raise is HandRaise.FOLLOWED_BY_SPEAKERS:
            # Read before taking the room's lock, as do_join reads blocks: a stage
            # change in between is judged on the stage the listener saw.
            stage = [p.user_id for p in room.participants.values() if p.on_stage]
            async with s.db.engine.connect() as conn:
                followed = await hallway_store.followed_by_any(conn, user.id, stage)
        return await _transition(
            s, room_id, user.id, "hand.raise", lambda r: domain.raise_hand(r, user.id, followed_by_a_speaker=followed)
        )
    return await _transition(s, room_id, user.id, "hand.lower", lambda r: domain.lower_hand(r, user.id))


async def do_invite_to_speak(s: Services, user: User, room_id: str, target: str) -> Room:
    return await _transition(
        s, room_id, user.id, "speak.invite", lambda r: domain.invite_to_speak(r, user.id, target), target_id=target
    )


async def do_answer_speak_invite(s: Services, user: User, room_id: str, accept: bool) -> Room:
    if accept:
        now = s.clock()
        return await _transition(
            s, room_id, user.id, "speak.accept", lambda r: domain.accept_speak_invite(r, user.id, now)
        )
    return await _transition(s, room_id, user.id, "speak.decline", lambda r: domain.decline_speak_invite(r, user.id))


async def do_withdraw_speak_invite(s: Services, user: User, room_id: str, target: str) -> Room:
    return await _transition(
        s,
        room_id,
        user.id,
        "speak.withdraw",
        lambda r: domain.withdraw_speak_invite(r, user.id, target),
        target_id=target,
    )


async def do_move_to_audience(s: Services, user: User, room_id: str, target: str) -> Room:
    return await _transition(
        s, room_id, user.id, "stage.leave", lambda r: domain.move_to_audience(r, user.id, target), target_id=target
    )


async def do_set_muted(s: Services, user: User, room_id: str, muted: bool) -> Room:
    return await _transition(
        s, room_id, user.id, "mute" if muted else "unmute", lambda r: domain.set_self_muted(r, user.id, muted)
    )


async def do_mute_speaker(s: Services, user: User, room_id: str, target: str, lock: bool) -> Room:
    return await _transition(
        s,
        room_id,
        user.id,
        "mute.speaker",
        lambda r: domain.mute_speaker(r, user.id, target, lock=lock),
        target_id=target,
    )


async def do_mute_all(s: Services, user: User, room_id: str) -> Room:
    """Everyone on stage but the moderators is muted (one audit entry: the room's stage)."""
    return await _transition(s, room_id, user.id, "mute.all", lambda r: domain.mute_all(r, user.id))


async def do_lower_all_hands(s: Services, user: User, room_id: str) -> Room:
    return await _transition(s, room_id, user.id, "hands.lower_all", lambda r: domain.lower_all_hands(r, user.id))


async def do_unlock_mute(s: Services, user: User, room_id: str, target: str) -> Room:
    return await _transition(
        s, room_id, user.id, "mute.unlock", lambda r: domain.unlock_mute(r, user.id, target), target_id=target
    )


async def do_make_moderator(s: Services, user: User, room_id: str, target: str) -> Room:
    return await _transition(
        s, room_id, user.id, "moderator.make", lambda r: domain.make_moderator(r, user.id, target), target_id=target
    )


async def do_revoke_moderator(s: Services, user: User, room_id: str, target: str) -> Room:
    return await _transition(
        s,
        room_id,
        user.id,
        "moderator.revoke",
        lambda r: domain.revoke_moderator(r, user.id, target),
        target_id=target,
    )


async def do_remove(s: Services, user: User, room_id: str, target: str, block: bool) -> Room:
    return await _transition(
        s,
        room_id,
        user.id,
        "remove.block" if block else "remove",
        lambda r: domain.remove(r, user.id, target, block=block),
        target_id=target,
        block=block,
    )


async def do_update_settings(
    s: Services,
    user: User,
    room_id: str,
    title: str | None,
    hand_raise: HandRaise | None,
    kind: RoomKind | None = None,
    topics: object = None,
) -> Room:
    """`topics`: a list of the instance's topics (None: unchanged)."""
    if title is not None:
        domain.clean_title(title)  # the title's refusal first, as for any text field
    checked = check_topics(topics, s.settings.topics) if topics is not None else None
    return await _transition(
        s,
        room_id,
        user.id,
        settings_changes,
        lambda r: domain.update_settings(r, user.id, title=title, hand_raise=hand_raise, kind=kind, topics=checked),
    )


def settings_changes(old: Room, new: Room) -> list[str]:
    """The audit entries of a settings change, one per setting: `room.title`,
    `room.hands.<setting>`, `room.kind.<kind>` (`room.kind.open`: opened up to everyone)."""
    changes = []
    if new.title != old.title:
        changes.append("room.title")
    if new.hand_raise is not old.hand_raise:
        changes.append(f"room.hands.{new.hand_raise.value}")
    if new.kind is not old.kind:
        changes.append(f"room.kind.{new.kind.value}")
    if new.topics != old.topics:
        changes.append("room.topics")
    return changes


async def do_end(s: Services, user: User, room_id: str) -> Room:
    return await _transition(s, room_id, user.id, "room.end", lambda r: domain.end(r, user.id))


# -- admins (actions/admin.py, actions/sanctions.py check who may) ---------------------


async def do_admin_end(s: Services, actor_id: str | None, room_id: str) -> Room:
    """An admin (or the operator, `actor_id` None) ends a live room."""
    return await _transition(s, room_id, actor_id, "room.end.admin", domain.end_now)


async def do_remove_sanctioned(s: Services, actor_id: str | None, room_id: str, user_id: str) -> Room:
    """A suspended or banned person leaves the room now; as when anyone leaves, their
    moderation passes to the longest-standing speaker, or the room ends (domain.leave)."""
    return await _transition(
        s, room_id, actor_id, "room.sanction", lambda r: domain.leave(r, user_id), target_id=user_id
    )


# -- presence and shutdown ------------------------------------------------------------


async def do_reap_absent(s: Services) -> int:
    """Make everyone whose clients have been gone past the grace period leave."""
    gone = s.live.absent(s.clock(), s.settings.reconnect_grace_s)
    for room_id, user_id in gone:
        try:
            await do_leave(s, user_id, room_id, action="room.gone")
        except ParlorError:
            s.live.presence.pop((room_id, user_id), None)
    return len(gone)


async def reap_forever(s: Services, interval: float = 1.0) -> None:
    while True:
        await asyncio.sleep(interval)
        try:
            await do_reap_absent(s)
        except Exception:
            logger.exception("reaping absent participants failed")


async def do_end_all(s: Services) -> None:
    """Shutdown: end every live room (live state does not survive the process)."""
    for room_id in list(s.live.rooms):
        await _transition(s, room_id, None, "room.shutdown", domain.end_now)


async def do_close_stale_rooms(s: Services) -> None:
    """Start-up: rooms left open by a crash are over; those another live node of the
    cluster runs (it holds their lease) are not."""
    async with s.db.engine.connect() as conn:
        open_ids = await store.open_room_ids(conn)
    holders = await s.cluster.holders([room_lease(r) for r in open_ids])
    stale = [room_id for room_id, holder in zip(open_ids, holders, strict=True) if holder is None]
    async with s.db.engine.begin() as conn:
        count = await store.end_open(conn, stale, s.clock())
    if count:
        logger.info("marked %d rooms from a previous run as ended", count)


async def do_renew_leases(s: Services) -> None:
    """Housekeeping: keep holding the leases of the rooms this node runs."""
    names = [room_lease(room_id) for room_id, room in s.live.rooms.items() if not room.guest_room]
    for lost in await s.cluster.renew(names, LEASE_TTL_S):
        # Only after Redis lost its data, or this node stalled longer than the lease.
        logger.warning("the lease of %s had lapsed; taken again", lost)
        await s.cluster.acquire(lost, LEASE_TTL_S)


async def live_anywhere(s: Services, room_id: str) -> bool:
    """Whether the room runs on this node or on another node of the cluster."""
    if room_id in s.live.rooms:
        return True
    return (await s.cluster.holders([room_lease(room_id)]))[0] is not None


def _publish_soon(s: Services, room_id: str, message: dict[str, Any]) -> None:
    """Publish from a synchronous media callback. Ephemeral: not queued, not audited."""
    if room_id in s.live.rooms:
        background.spawn(s.bus.publish(room_channel(room_id), message))


def publish_levels(s: Services, room_id: str, changes: dict[str, float]) -> None:
    """Media callback: some speakers' levels changed; `speaking` goes out when the room's
    picture changes, coalesced (actions/speaking.py)."""
    if room_id not in s.live.rooms and cluster_media.relaying(s):
        cluster_media.publish_levels(s, room_id, changes)  # the room's node says who speaks
        return
    speaking.do_levels(s, room_id, changes)


def publish_media_restart(s: Services, room_id: str, user_id: str) -> None:
    """Media callback: the user's media connection was lost (a worker died); their client reconnects."""
    speaking.do_forget_user(s, room_id, user_id)
    _publish_soon(s, room_id, {"name": "media.restart", "data": {"room_id": room_id, "user_id": user_id}})

