"""A room's media spread over the nodes of a cluster (DESIGN §4 "Beyond one box").

With in-process media (one media worker) and a cluster, a person's media connects to
the node their socket is on, whichever node runs the room. The room's node still
decides who may be heard, and says so to every node on one cluster-wide channel:
the audible set after each change, peers to close (someone left or was removed), the
room's end. A node with peers of a room keeps its entry in the room's media nodes
(`Cluster.media_here`, renewed every second) and relays its speakers' packets to the
others' (media/node_relay.py); speakers' levels go back to the room's node, which
says who is speaking.

Without a cluster, or with several media workers per node, none of this runs: a
room's media is then on the room's node (actions/room_ops.py carries it there).
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit

from parlor.actions import background, speaking
from parlor.actions.services import Services

logger = logging.getLogger(__name__)

CHANNEL = "cluster.media"
# A node that stops renewing its entry in a room's media nodes drops out after this.
ENTRY_TTL_S = 5.0



def relaying(s: Services) -> bool:
    return s.node_relay is not None


async def do_start(s: Services) -> None:
    """Start-up, after the node key is read: open the relay socket, follow the channel."""
    if s.node_relay is None:
        return
    host = urlsplit(s.settings.internal_url).hostname or "127.0.0.1"
    await s.node_relay.start(host, s.nodes.key, s.settings.relay_port)
    s.bus.subscribe(CHANNEL, lambda message: _on_message(s, message))


def do_stop(s: Services) -> None:
    if s.node_relay is not None:
        s.node_relay.close()


# -- the room's node --------------------------------------------------------------


async def publish_audible(s: Services, room_id: str, version: int, audible: frozenset[str]) -> None:
    if relaying(s):
        data = {"room_id": room_id, "version": version, "user_ids": sorted(audible)}
        await s.bus.publish(CHANNEL, {"name": "audible", "data": data})


async def publish_close_peer(s: Services, room_id: str, user_id: str) -> None:
    if relaying(s):
        await s.bus.publish(CHANNEL, {"name": "close_peer", "data": {"room_id": room_id, "user_id": user_id}})


async def publish_close_room(s: Services, room_id: str) -> None:
    if relaying(s):
        await s.bus.publish(CHANNEL, {"name": "close_room", "data": {"room_id": room_id}})


# -- a node with peers of a room it does not run ------------------------------------


def remember_audible(s: Services, room_id: str, version: int, audible: frozenset[str]) -> None:
    """The room's audible set as of `version` (from its node): applied if newer."""
    known = s.media_audible.get(room_id)
    if known is not None and known[0] > version:
        return
    s.media_audible[room_id] = (version, audible)
    s.media.set_audible(room_id, audible)


def publish_levels(s: Services, room_id: str, changes: dict[str, float]) -> None:
    """Media callback: levels of speakers whose peers are here, in a room another node runs."""
    data = {"room_id": room_id, "levels": changes}
    background.spawn(s.bus.publish(CHANNEL, {"name": "levels", "data": data}))


async def do_peer_opened(s: Services, room_id: str) -> None:
    """A media peer of the room opened here: be one of its media nodes now."""
    if not relaying(s) or room_id in s.media_rooms:
        return
    s.media_rooms.add(room_id)
    await _announce_here(s, room_id)
    await s.bus.publish(CHANNEL, {"name": "nodes", "data": {"room_id": room_id}})


async def do_keep(s: Services) -> None:
    """Housekeeping: renew this node's entries, drop those of rooms without peers here,
    and relay to the room's media nodes as they are now."""
    if not relaying(s):
        return
    for room_id in list(s.media_rooms):
        if s.media.local_peers(room_id) == 0:
            s.media_rooms.discard(room_id)
            s.media_audible.pop(room_id, None)
            assert s.node_relay is not None
            s.node_relay.set_targets(room_id, [])
            if room_id not in s.live.rooms:
                await s.media.close_room(room_id)  # forget its audible set here too
            await s.cluster.media_gone(room_id)
            await s.bus.publish(CHANNEL, {"name": "nodes", "data": {"room_id": room_id}})
            continue
        await _announce_here(s, room_id)


async def _announce_here(s: Services, room_id: str) -> None:
    relay = s.node_relay
    assert relay is not None and relay.address is not None
    await s.cluster.media_here(room_id, f"{relay.address[0]}:{relay.address[1]}", ENTRY_TTL_S)
    await _refresh_targets(s, room_id)


async def _refresh_targets(s: Services, room_id: str) -> None:
    relay = s.node_relay
    if relay is None:
        return
    targets = []
    for node_id, address in (await s.cluster.media_nodes(room_id)).items():
        host, _, port = address.rpartition(":")
        if node_id != s.cluster.node_id and host and port.isdigit():
            targets.append((host, int(port)))
    relay.set_targets(room_id, sorted(targets))


def _on_message(s: Services, message: dict[str, Any]) -> None:
    name, data = message.get("name"), message.get("data") or {}
    room_id = str(data.get("room_id", ""))
    here = room_id in s.media_rooms
    owner = room_id in s.live.rooms
    if name == "levels":
        if owner:
            speaking.do_levels(s, room_id, {str(k): float(v) for k, v in data["levels"].items()})
        return
    if name == "nodes":
        if here:
            background.spawn(_refresh_targets(s, room_id))
        return
    if not here or owner:
        return  # no peers of it here, or we sent it (the room's node acts on its own)
    if name == "audible":
        remember_audible(s, room_id, int(data["version"]), frozenset(data["user_ids"]))
    elif name == "close_peer":
        background.spawn(s.media.close_peer(room_id, str(data["user_id"])))
    elif name == "close_room":
        s.media_rooms.discard(room_id)
        s.media_audible.pop(room_id, None)
        background.spawn(s.media.close_room(room_id))
