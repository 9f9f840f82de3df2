"""The cluster contract: this node's identity, the other nodes, and leases.

A lease is a name held by one node until it expires: a node renews what it holds
(housekeeping, every second) and another takes it over once it lapses, so a dead node's
work (its rooms, the scheduler) passes on within the lease's time to live.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any


class ClusterError(Exception):
    """A node cannot join the cluster as it is; the message says why and what to do."""


@dataclass(frozen=True)
class NodeInfo:
    node_id: str
    version: str
    schema: str
    public_url: str
    ice_hosts: tuple[str, ...] = field(default_factory=tuple)
    started_at: float = 0.0
    # where the other nodes reach this one (Settings.internal_url)
    node_url: str = ""

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "ice_hosts": list(self.ice_hosts)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> NodeInfo:
        return cls(
            node_id=str(data["node_id"]),
            version=str(data["version"]),
            schema=str(data["schema"]),
            public_url=str(data.get("public_url", "")),
            ice_hosts=tuple(str(h) for h in data.get("ice_hosts", ())),
            started_at=float(data.get("started_at", 0.0)),
            node_url=str(data.get("node_url", "")),
        )


def check_compatible(me: NodeInfo, others: Sequence[NodeInfo]) -> None:
    """Every node runs the same version on the same schema: refuse to join otherwise."""
    for other in others:
        if other.node_id == me.node_id:
            continue
        if (other.version, other.schema) != (me.version, me.schema):
            raise ClusterError(
                f"node {other.node_id} ({other.public_url or 'no public URL'}) runs Parlor {other.version} "
                f"on schema {other.schema}, this one {me.version} on schema {me.schema}: every node of a "
                "cluster runs the same version; upgrade (or drain and stop) the others first"
            )


class Cluster(abc.ABC):
    node_id: str
    # Whether live rooms are copied beside their leases (save_room): with one node there
    # is nobody to take a room over, so the copy is not even made.
    keeps_rooms = False

    @abc.abstractmethod
    async def join(self, me: NodeInfo) -> None:
        """Advertise this node; ClusterError if it cannot run beside the others."""

    @abc.abstractmethod
    async def nodes(self) -> list[NodeInfo]:
        """The live nodes, this one included."""

    @abc.abstractmethod
    async def acquire(self, name: str, ttl_s: float) -> bool:
        """Hold `name` for `ttl_s` if it is free or already ours (then renewed)."""

    @abc.abstractmethod
    async def renew(self, names: Sequence[str], ttl_s: float) -> list[str]:
        """Renew what this node still holds of `names`; the names it no longer holds."""

    @abc.abstractmethod
    async def release(self, name: str) -> None:
        """Let go of `name` if this node holds it."""

    @abc.abstractmethod
    async def holders(self, names: Sequence[str]) -> list[str | None]:
        """Which node holds each name now (None: nobody)."""

    @abc.abstractmethod
    async def remember(self, items: Mapping[str, str], ttl_s: float) -> None:
        """Keep each key's value for `ttl_s`, for every node to see (`recall`)."""

    @abc.abstractmethod
    async def recall(self, key: str) -> str | None:
        """What `remember` keeps under `key`, if it has not expired."""

    async def save_room(self, room_id: str, state: str) -> None:  # noqa: B027 - optional hook
        """Keep a copy of a live room's state beside its lease (a cluster of one: no need)."""

    async def drop_room(self, room_id: str) -> None:  # noqa: B027 - optional hook
        """The room ended: forget its copy."""

    async def orphaned_rooms(self) -> list[tuple[str, str]]:
        """(room id, state) of rooms kept here whose lease nobody holds: their node died."""
        return []

    async def media_here(self, room_id: str, address: str, ttl_s: float) -> None:  # noqa: B027 - optional hook
        """This node has media peers of the room; other nodes relay its speakers to
        `address` ("host:port", media/node_relay.py) for `ttl_s` unless said again."""

    async def media_gone(self, room_id: str) -> None:  # noqa: B027 - optional hook
        """This node has no media peer of the room any more."""

    async def media_nodes(self, room_id: str) -> dict[str, str]:
        """node id -> relay address of the nodes with media peers of the room."""
        return {}

    async def heartbeat(self) -> None:  # noqa: B027 - optional hook
        """Say this node is still alive (housekeeping calls it every second)."""

    async def leave(self) -> None:  # noqa: B027 - optional hook
        """Stop advertising this node (a clean stop)."""

    async def close(self) -> None:  # noqa: B027 - optional hook
        pass


def room_lease(room_id: str) -> str:
    """The lease of a live room's state: held by the node that runs the room."""
    return f"room:{room_id}"


# Renewed every second by housekeeping: a dead node's leases lapse within this.
LEASE_TTL_S = 3.0
