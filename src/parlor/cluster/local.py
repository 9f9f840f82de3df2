"""A cluster of one node: every lease it asks for is its own."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence

from parlor.cluster.base import Cluster, NodeInfo


class LocalCluster(Cluster):
    def __init__(self, node_id: str = "local", clock: Callable[[], float] = time.monotonic) -> None:
        self.node_id = node_id
        self._clock = clock
        self._me: NodeInfo | None = None
        self._leases: dict[str, float] = {}  # name -> expires at
        self._kept: dict[str, tuple[str, float]] = {}  # key -> (value, expires at)

    async def join(self, me: NodeInfo) -> None:
        self._me = me

    async def nodes(self) -> list[NodeInfo]:
        return [self._me] if self._me is not None else []

    def _held(self, name: str) -> bool:
        expires = self._leases.get(name)
        return expires is not None and expires > self._clock()

    async def acquire(self, name: str, ttl_s: float) -> bool:
        self._leases[name] = self._clock() + ttl_s
        return True

    async def renew(self, names: Sequence[str], ttl_s: float) -> list[str]:
        # Nobody else could have taken a lapsed one (a stalled loop, say): nothing is lost.
        for name in names:
            self._leases[name] = self._clock() + ttl_s
        return []

    async def release(self, name: str) -> None:
        self._leases.pop(name, None)

    async def holders(self, names: Sequence[str]) -> list[str | None]:
        return [self.node_id if self._held(n) else None for n in names]

    async def remember(self, items: Mapping[str, str], ttl_s: float) -> None:
        now = self._clock()
        if len(self._kept) > 1024:  # forget what has expired, now and then
            self._kept = {k: v for k, v in self._kept.items() if v[1] > now}
        for key, value in items.items():
            self._kept[key] = (value, now + ttl_s)

    async def recall(self, key: str) -> str | None:
        kept = self._kept.get(key)
        return kept[0] if kept is not None and kept[1] > self._clock() else None
