"""Which node of the cluster runs a room: a room's live state is on one node at a time
(its lease, cluster/base.py), and people on any node act in it through that node.

`RoomElsewhere` says "another node runs this room, at this address": an HTTP request
that meets it is forwarded there whole (transport/http/node_hop.py), a socket message
is carried there (actions/room_ops.py). It never reaches a client as such: a hop that
fails answers `room_moving` (the client asks again in a moment).
"""

from __future__ import annotations

import secrets

from parlor.actions.services import Services
from parlor.cluster.base import room_lease
from parlor.errors import Code, ParlorError
from parlor.storage import accounts as account_store

NODE_KEY_FACT = "node_key"
# HTTP 421 Misdirected Request: this node is not the one to answer; the owner's address
# goes in OWNER_HEADER (read by transport/http/node_hop.py, which never lets it out).
MISDIRECTED = 421
OWNER_HEADER = "x-parlor-owner"


class RoomElsewhere(ParlorError):
    def __init__(self, node_url: str) -> None:
        super().__init__(
            MISDIRECTED, Code.ROOM_MOVING, "This room runs on another server: try again in a moment.", retry_after=2
        )
        self.node_url = node_url


async def do_load_node_key(s: Services) -> None:
    """Start-up, in a cluster: the key of requests between nodes (the first node makes it)."""
    if not s.settings.redis_url:
        return
    async with s.db.engine.begin() as conn:
        s.nodes.key = bytes.fromhex(await account_store.fact_or(conn, NODE_KEY_FACT, secrets.token_hex(32)))


async def owner_url(s: Services, room_id: str) -> str | None:
    """The address of the other node that runs `room_id`, or None: it runs here, on no
    node (ended, or being taken over), or there is no cluster."""
    if room_id in s.live.rooms or not s.settings.redis_url:
        return None
    holder = (await s.cluster.holders([room_lease(room_id)]))[0]
    if holder is None or holder == s.cluster.node_id:
        return None
    return await s.nodes.url_of(s.cluster, holder)


async def check_here(s: Services, room_id: str) -> None:
    """Raise RoomElsewhere if another node runs the room."""
    url = await owner_url(s, room_id)
    if url is not None:
        raise RoomElsewhere(url)
