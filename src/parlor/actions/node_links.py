"""This node's links to the other nodes of its cluster: where each is, the key their
requests are signed with (cluster/hop.py), and one HTTP client for them all."""

from __future__ import annotations

import math
import time

import httpx

from parlor.cluster.base import Cluster

# The nodes' addresses are looked up again after this long (a node that joins or leaves).
URLS_TTL_S = 2.0
# A node that does not answer a forwarded request within this is taken for gone.
TIMEOUT_S = 10.0


class NodeLinks:
    def __init__(self) -> None:
        self.key = b""  # read from the database at start, with a Redis URL only
        self._client: httpx.AsyncClient | None = None
        self._urls: dict[str, str] = {}
        self._read_at = -math.inf

    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            # trust_env off: a proxy set for the machine must not carry node-to-node hops
            self._client = httpx.AsyncClient(timeout=TIMEOUT_S, trust_env=False)
        return self._client

    async def url_of(self, cluster: Cluster, node_id: str) -> str | None:
        """Where node `node_id` takes requests, or None if it is not a live node."""
        now = time.monotonic()
        if node_id not in self._urls or now - self._read_at > URLS_TTL_S:
            self._urls = {n.node_id: n.node_url for n in await cluster.nodes() if n.node_url}
            self._read_at = now
        return self._urls.get(node_id)

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None
