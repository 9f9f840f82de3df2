"""Nodes and leases kept in the cluster's Redis (PARLOR_REDIS_URL).

`parlor:node:<id>` holds each live node's NodeInfo and expires unless the node says it
is alive (every second, from housekeeping); `parlor:lease:<name>` holds the id of the
node that holds the lease. Taking, renewing and letting go are each one Lua script, so
two nodes never both believe they hold a name.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from typing import Any

from parlor.cluster.base import Cluster, NodeInfo, check_compatible

NODE = "parlor:node:"
LEASE = "parlor:lease:"
ROOM = "parlor:room:"
KEPT = "parlor:kept:"
MEDIA = "parlor:media:"
# A node not heard from for this long is gone (a kill -9, a lost machine).
NODE_TTL_S = 5.0

_ACQUIRE = """
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
"""

# Returns the 1-based indexes of the keys this node no longer holds.
_RENEW = """
local lost = {}
for i = 1, #KEYS do
  if redis.call('GET', KEYS[i]) == ARGV[1] then
    redis.call('PEXPIRE', KEYS[i], ARGV[2])
  else
    lost[#lost + 1] = i
  end
end
return lost
"""

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 0
"""


def _ms(seconds: float) -> int:
    return max(1, round(seconds * 1000))


class RedisCluster(Cluster):
    keeps_rooms = True

    def __init__(self, url: str, node_id: str) -> None:
        import redis.asyncio  # optional dependency: only when a Redis URL is set

        self.node_id = node_id
        self._redis: Any = redis.asyncio.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5)
        self._acquire = self._redis.register_script(_ACQUIRE)
        self._renew = self._redis.register_script(_RENEW)
        self._release = self._redis.register_script(_RELEASE)
        self._me: NodeInfo | None = None

    async def join(self, me: NodeInfo) -> None:
        check_compatible(me, await self.nodes())
        self._me = me
        await self.heartbeat()

    async def heartbeat(self) -> None:
        if self._me is not None:
            await self._redis.set(NODE + self.node_id, json.dumps(self._me.to_json()), px=_ms(NODE_TTL_S))

    async def leave(self) -> None:
        await self._redis.delete(NODE + self.node_id)

    async def nodes(self) -> list[NodeInfo]:
        keys = [key async for key in self._redis.scan_iter(match=NODE + "*", count=100)]
        if not keys:
            return []
        found = []
        for raw in await self._redis.mget(keys):
            if raw is None:
                continue  # expired between the scan and the read
            try:
                found.append(NodeInfo.from_json(json.loads(raw)))
            except (ValueError, KeyError, TypeError):
                continue  # not ours to judge: a node of a very different version
        return found

    async def acquire(self, name: str, ttl_s: float) -> bool:
        return bool(await self._acquire(keys=[LEASE + name], args=[self.node_id, _ms(ttl_s)]))

    async def renew(self, names: Sequence[str], ttl_s: float) -> list[str]:
        if not names:
            return []
        lost = await self._renew(keys=[LEASE + n for n in names], args=[self.node_id, _ms(ttl_s)])
        return [names[int(i) - 1] for i in lost]

    async def release(self, name: str) -> None:
        await self._release(keys=[LEASE + name], args=[self.node_id])

    async def holders(self, names: Sequence[str]) -> list[str | None]:
        if not names:
            return []
        raw = await self._redis.mget([LEASE + n for n in names])
        return [None if h is None else (h.decode() if isinstance(h, bytes) else str(h)) for h in raw]

    async def remember(self, items: Mapping[str, str], ttl_s: float) -> None:
        async with self._redis.pipeline(transaction=False) as pipe:
            for key, value in items.items():
                pipe.set(KEPT + key, value, px=_ms(ttl_s))
            await pipe.execute()

    async def recall(self, key: str) -> str | None:
        raw = await self._redis.get(KEPT + key)
        return None if raw is None else (raw.decode() if isinstance(raw, bytes) else str(raw))

    async def save_room(self, room_id: str, state: str) -> None:
        await self._redis.set(ROOM + room_id, state)

    async def drop_room(self, room_id: str) -> None:
        await self._redis.delete(ROOM + room_id)

    async def orphaned_rooms(self) -> list[tuple[str, str]]:
        keys = [k.decode() if isinstance(k, bytes) else str(k) async for k in self._redis.scan_iter(match=ROOM + "*")]
        if not keys:
            return []
        room_ids = [k.removeprefix(ROOM) for k in keys]
        states = await self._redis.mget(keys)
        holders = await self.holders([f"room:{r}" for r in room_ids])
        return [
            (room_id, state.decode() if isinstance(state, bytes) else str(state))
            for room_id, state, holder in zip(room_ids, states, holders, strict=True)
            if holder is None and state is not None
        ]

    # A room's media nodes: a hash of node id -> "expires_at host:port" (wall clock; a
    # node that stops saying so drops out when its entry expires).
    async def media_here(self, room_id: str, address: str, ttl_s: float) -> None:
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.hset(MEDIA + room_id, self.node_id, f"{time.time() + ttl_s:.3f} {address}")
            pipe.expire(MEDIA + room_id, max(1, round(ttl_s * 4)))
            await pipe.execute()

    async def media_gone(self, room_id: str) -> None:
        await self._redis.hdel(MEDIA + room_id, self.node_id)

    async def media_nodes(self, room_id: str) -> dict[str, str]:
        now = time.time()
        found = {}
        for node, value in (await self._redis.hgetall(MEDIA + room_id)).items():
            node_id = node.decode() if isinstance(node, bytes) else str(node)
            expires, _, address = (value.decode() if isinstance(value, bytes) else str(value)).partition(" ")
            try:
                if float(expires) > now and address:
                    found[node_id] = address
            except ValueError:
                continue
        return found

    async def close(self) -> None:
        await self._redis.aclose()
