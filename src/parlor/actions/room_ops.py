"""A client socket's room messages, answered by the node that runs the room.

A socket is on one node and may follow rooms that other nodes run (actions/room_owner.py).
What it asks of such a room (subscribe, media offers and answers, link reports,
reactions, end-to-end keys) is carried to the room's node over one signed HTTP request
each (cluster/hop.py) and answered there as if the socket were its own; the answer's
texts come back to be sent on the socket. Events need no carrying: the bus brings
every room's events to every node.

The room's node counts a socket elsewhere as present (`attached_from`, by node) until
that socket's node says it is gone, or that node is: a node that dies takes its
attachments with it, and their people then have the reconnect grace to come back.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import httpx

from parlor import protocol as p
from parlor.actions import background, chat, cluster_media, e2ee, links, presence, reactions, room_owner, speaking
from parlor.actions.rooms import person_view, room_view
from parlor.actions.services import Services
from parlor.cluster import hop
from parlor.domain.rooms import Room
from parlor.domain.users import User
from parlor.errors import Code, ParlorError
from parlor.media.base import MediaError
from parlor.storage import accounts as account_store

logger = logging.getLogger(__name__)

PATH = "/internal/room-op"
# On a room's channel: another node took the room over; every socket following it
# attaches again there (transport/ws/endpoint.py). Never sent to clients.
ROOM_MOVED = "room.moved"
SIGNATURE_HEADER = "x-parlor-hop"

# What a socket sends on subscribing: ("event", name, data as JSON) for the queue,
# ("text", "", text) for messages sent as they are.
Item = tuple[str, str, str]


def snapshot(s: Services, room: Room, user_id: str) -> list[Item]:
    """What a newly subscribed socket is told: the room, where the user stands in it,
    the chat so far, who is speaking and whose link is poor."""
    items: list[Item] = [("event", "room.state", _compact(room_view(s, room)))]
    mine = room.participants.get(user_id)
    you = {"room_id": room.id, "version": room.version, "participant": person_view(s, mine) if mine else None}
    items.append(("event", "room.you", _compact(you)))
    history = chat.history_json(s, room.id, user_id)
    if history is not None:
        items.append(("event", "chat.history", history))
    # `speaking` is sent only when it changes: tell a newcomer who is speaking now.
    now_speaking = speaking.current_text(s, room.id)
    if now_speaking is not None:
        items.append(("text", "", now_speaking))
    links.do_socket_late(s, user_id, [room.id], False)
    poor_now = links.current_text(s, room.id)
    if poor_now is not None:
        items.append(("text", "", poor_now))
    return items


async def do_attach(s: Services, user_id: str, room_id: str) -> list[Item]:
    """A socket of the user subscribes to the room, here or on the room's node."""
    target = await room_owner.owner_url(s, room_id)
    if target is not None:
        return [(str(k), str(n), str(t)) for k, n, t in await _call(s, target, user_id, "attach", room_id)]
    room = await presence.do_attach(s, user_id, room_id)
    return snapshot(s, room, user_id)


def do_detach(s: Services, user_id: str, room_id: str, since: float) -> None:
    """A socket's queue stopped following the room: here, or told to the room's node."""
    if room_id in s.live.rooms or not s.settings.redis_url:
        presence.do_detach(s, user_id, room_id, since)
        return
    background.spawn(_detach_elsewhere(s, user_id, room_id))


async def _detach_elsewhere(s: Services, user_id: str, room_id: str) -> None:
    target = await room_owner.owner_url(s, room_id)
    if target is None:
        return  # ended, or moving: its new node counts nobody from here
    try:
        await _call(s, target, user_id, "detach", room_id)
    except ParlorError as exc:
        logger.info("could not tell the node of room %s that a socket left: %s", room_id, exc)


async def do_message(s: Services, user: User, message: p.RoomMessage) -> list[str]:
    """Answer a room message of the socket: here, or on the room's node. The texts to send back."""
    target = await room_owner.owner_url(s, message.room_id)
    if target is None:
        return await _run(s, user, message)
    if cluster_media.relaying(s) and isinstance(message, (p.MediaStart, p.MediaAnswer, p.MediaStop)):
        return await _media_here(s, target, user, message)
    return [str(t) for t in await _call(s, target, user.id, "message", message.room_id, message.to_json())]


async def _media_here(s: Services, target: str, user: User, message: p.RoomMessage) -> list[str]:
    """Media of a room another node runs, on this node (actions/cluster_media.py): that
    node says whether the user may have it, and who may be heard."""
    room_id = message.room_id
    try:
        match message:
            case p.MediaStart():
                info = (await _call(s, target, user.id, "media_check", room_id))[0]
                if info["encrypted"]:
                    s.media.set_encrypted(room_id, True)
                sdp = await s.media.open_peer(room_id, user.id)
                cluster_media.remember_audible(s, room_id, int(info["version"]), frozenset(info["audible"]))
                await cluster_media.do_peer_opened(s, room_id)
                return [p.MediaOffer(room_id=room_id, sdp=sdp).to_json()]
            case p.MediaAnswer(sdp=sdp):
                try:
                    await s.media.accept_answer(room_id, user.id, sdp)
                except MediaError as exc:
                    raise ParlorError(400, Code.INVALID_SDP, f"The SDP answer was refused: {exc}") from exc
            case p.MediaStop():
                await s.media.close_peer(room_id, user.id)
    except MediaError as exc:
        raise ParlorError(503, Code.MEDIA_UNAVAILABLE, str(exc)) from exc
    return []


async def _run(s: Services, user: User, message: p.RoomMessage) -> list[str]:
    match message:
        case p.MediaStart(room_id=room_id):
            sdp = await presence.do_media_start(s, user.id, room_id)
            await cluster_media.do_peer_opened(s, room_id)
            return [p.MediaOffer(room_id=room_id, sdp=sdp).to_json()]
        case p.MediaAnswer(room_id=room_id, sdp=sdp):
            await presence.do_media_answer(s, user.id, room_id, sdp)
        case p.MediaStop(room_id=room_id):
            await presence.do_media_stop(s, user.id, room_id)
        case p.Link(room_id=room_id, quality=quality):
            links.do_report(s, user.id, room_id, quality)
        case p.React(room_id=room_id, emoji=emoji):
            await reactions.do_react(s, user, room_id, emoji)
        case p.E2eePublish(room_id=room_id, public_key=public_key):
            await e2ee.do_publish(s, user.id, room_id, public_key)
        case p.E2eeKeySend(room_id=room_id, to=to, epoch=epoch, wrapped=wrapped):
            await e2ee.do_send_key(s, user.id, room_id, to, epoch, wrapped)
    return []


# -- between nodes ----------------------------------------------------------------


async def _call(s: Services, target: str, user_id: str, op: str, room_id: str, message: str = "") -> list[Any]:
    request = {"op": op, "user_id": user_id, "room_id": room_id, "node_id": s.cluster.node_id, "message": message}
    body = _compact(request)
    signature = hop.sign(s.nodes.key, s.clock(), PATH, body)
    try:
        response = await s.nodes.client().post(
            target + PATH, content=body, headers={SIGNATURE_HEADER: signature, "content-type": "application/json"}
        )
        answer = response.json()
    except (httpx.HTTPError, ValueError) as exc:  # the node is gone or going
        raise _moving() from exc
    if "error" in answer:
        error = answer["error"]
        try:
            code = Code(error["code"])
        except ValueError:
            code = Code.ROOM_MOVING
        raise ParlorError(int(error.get("status", 400)), code, str(error["message"]))
    return list(answer.get("items", []))


async def do_answer(s: Services, body: bytes, signature: str) -> dict[str, Any]:
    """The room's node: answer another node's request for one of its sockets."""
    text = body.decode("utf-8", "replace")
    if not hop.verify(s.nodes.key, signature, s.clock(), PATH, text):
        raise ParlorError(403, Code.FORBIDDEN, "Not a node of this cluster.")
    request = json.loads(text)
    op, user_id, room_id, node_id = request["op"], request["user_id"], request["room_id"], request["node_id"]
    try:
        if room_id not in s.live.rooms:
            # Not ours (any more): the asking node looks again and the client retries.
            raise ParlorError(503, Code.ROOM_MOVING, "This room is moving to another server: try again in a moment.")
        if op == "attach":
            room = await presence.do_attach(s, user_id, room_id)
            key = (room_id, user_id, node_id)
            s.attached_from[key] = s.attached_from.get(key, 0) + 1
            return {"items": snapshot(s, room, user_id)}
        if op == "media_check":
            room = await presence.check_participant(s, user_id, room_id)
            info = {"version": room.version, "encrypted": room.encrypted, "audible": sorted(room.audible_speakers)}
            return {"items": [info]}
        if op == "detach":
            key = (room_id, user_id, node_id)
            if s.attached_from.get(key, 0) > 0:
                s.attached_from[key] -= 1
                if not s.attached_from[key]:
                    del s.attached_from[key]
                presence.do_detach(s, user_id, room_id, s.clock())
            return {"items": []}
        if op == "message":
            message = p.parse_client(request["message"])
            if not isinstance(message, p.ROOM_MESSAGES) or message.room_id != room_id:
                raise ParlorError(400, Code.BAD_MESSAGE, "Not a room message.")
            async with s.db.engine.connect() as conn:
                user = await account_store.user_by_id(conn, user_id)
            if user is None:
                raise ParlorError(403, Code.NOT_AUTHENTICATED, "No such account.")
            return {"items": await _run(s, user, message)}
        raise ParlorError(400, Code.BAD_MESSAGE, "Unknown operation.")
    except ParlorError as exc:
        return {"error": {**exc.to_dict(), "status": exc.status}}


async def do_forget_gone_nodes(s: Services) -> None:
    """Housekeeping on a room's node: sockets of a node that died are gone too."""
    if not s.attached_from:
        return
    alive = {n.node_id for n in await s.cluster.nodes()}
    now = s.clock()
    for key in [k for k in s.attached_from if k[2] not in alive]:
        room_id, user_id, _node = key
        for _ in range(s.attached_from.pop(key)):
            presence.do_detach(s, user_id, room_id, now)


def _moving() -> ParlorError:
    return ParlorError(503, Code.ROOM_MOVING, "This room is moving to another server: try again in a moment.")


def _compact(data: Any) -> str:
    return json.dumps(data, separators=(",", ":"))


