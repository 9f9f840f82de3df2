"""Rooms of a node that died, taken over by another; rooms of a node that stops, handed off.

The owner keeps a copy of each live room beside the room's lease (actions/rooms.py
`do_mirror`, after every transition). When the lease lapses (nobody renewed it for
LEASE_TTL_S: the node was killed, its machine lost), the first node whose housekeeping
sees it takes the lease and brings the room back from the copy: the same stage, hands,
mutes and moderators. Its people then have the reconnect grace to come back through the
load balancer, to whichever node; until they do they count as absent. Sockets on the
other nodes, still open, follow the room to its new node by themselves (room_ops.py).
Media relayed between nodes (cluster_media.py) goes on meanwhile, but for people whose
media was on the dead node; with media on the room's node, every client is told to
connect its media again, there. A node told to
stop (SIGTERM, a drain) lets go of its rooms' leases instead of ending them, so another
node takes each over at once. One node alone ends its rooms on the way out, as before.
"""

from __future__ import annotations

import json
import logging

from parlor.actions import cluster_media, rooms
from parlor.actions.room_ops import ROOM_MOVED
from parlor.actions.services import Services
from parlor.bus.base import room_channel
from parlor.cluster.base import LEASE_TTL_S, room_lease
from parlor.domain import room_mirror
from parlor.domain import rooms as domain
from parlor.storage import accounts as account_store

logger = logging.getLogger(__name__)


async def do_take_over(s: Services) -> list[str]:
    """Housekeeping: take over the rooms whose node is gone; the ids taken."""
    taken: list[str] = []
    for room_id, state in await s.cluster.orphaned_rooms():
        if room_id in s.live.rooms or not await s.cluster.acquire(room_lease(room_id), LEASE_TTL_S):
            continue  # ours already, or another node was quicker
        try:
            room = room_mirror.from_json(json.loads(state))
        except (ValueError, KeyError, TypeError):
            logger.warning("cannot read the copy of room %s (another version wrote it?): left alone", room_id)
            await s.cluster.release(room_lease(room_id))
            continue
        async with s.db.engine.connect() as conn:
            for user_id in room.participants:
                user = await account_store.user_by_id(conn, user_id)
                if user is not None:
                    s.live.profiles[user_id] = user
                    await rooms._remember_avatar(s, conn, user_id)
        now = s.clock()
        s.live.put(room)
        for user_id in room.participants:
            s.live.arrived(room_id, user_id, now)  # absent until their client is back
        await rooms._announce(s, None, room)
        # Sockets on the other nodes still follow the room: they attach here now. With
        # media on the room's node (media workers), it was on the node that died:
        # everyone's client connects it again, here.
        await s.bus.publish(room_channel(room_id), {"name": ROOM_MOVED, "data": {"room_id": room_id}})
        if not cluster_media.relaying(s):  # else media is on the people's own nodes: it goes on
            for user_id in room.participants:
                rooms.publish_media_restart(s, room_id, user_id)
        taken.append(room_id)
        logger.info("took over room %s (%d people) from a node that is gone", room_id, len(room.participants))
    return taken


async def do_hand_off_or_end(s: Services) -> None:
    """Shutdown: with other nodes alive, let go of this node's rooms so that they take
    them over at once; alone (or unable to tell), end them."""
    try:
        others = [n for n in await s.cluster.nodes() if n.node_id != s.cluster.node_id]
    except Exception:
        logger.warning("cannot reach the cluster on the way out: ending this node's rooms")
        others = []
    if not others:
        await rooms.do_end_all(s)
        return
    handed = 0
    for room_id, room in list(s.live.rooms.items()):
        if room.guest_room:
            # Guests live in this node's memory only: their room cannot move.
            await rooms._transition(s, room_id, None, "room.shutdown", domain.end_now)
            continue
        s.live.rooms.pop(room_id, None)
        await s.media.close_room(room_id)
        await s.cluster.release(room_lease(room_id))
        handed += 1
    logger.info("handed %d rooms to the other nodes", handed)
