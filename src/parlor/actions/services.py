"""What actions need, built once by the composition root (`parlor.app`)."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from parlor.actions.chat_board import ChatBoard, ReactionBoard
from parlor.actions.links import LinkBoard
from parlor.actions.live import LiveRooms
from parlor.actions.node_links import NodeLinks
from parlor.actions.speaking import SpeakingBoard
from parlor.bus.base import Bus
from parlor.cluster.base import Cluster
from parlor.cluster.local import LocalCluster
from parlor.limits.base import Limiter
from parlor.limits.memory import MemoryLimiter
from parlor.limits.policies import DEFAULTS, Rate
from parlor.media.base import MediaServer
from parlor.media.node_relay import NodeRelay
from parlor.oidc import OidcClient
from parlor.settings import Settings
from parlor.storage.db import Database


@dataclass
class Services:
    settings: Settings
    db: Database
    bus: Bus
    media: MediaServer
    live: LiveRooms = field(default_factory=LiveRooms)
    speaking: SpeakingBoard = field(default_factory=SpeakingBoard)
    links: LinkBoard = field(default_factory=LinkBoard)
    # In-room chat and reactions, in memory only (actions/chat.py, actions/reactions.py).
    chat: ChatBoard = field(default_factory=ChatBoard)
    reactions: ReactionBoard = field(default_factory=ReactionBoard)
    clock: Callable[[], float] = time.time
    # Rate limits (actions/limits.py): the store, and every named policy's rate.
    limiter: Limiter = field(default_factory=MemoryLimiter)
    limits: Mapping[str, Rate] = field(default_factory=lambda: dict(DEFAULTS))
    # This node among the others, and the leases it holds (cluster/; one node: LocalCluster).
    cluster: Cluster = field(default_factory=LocalCluster)
    # The other nodes: where they are, and the key of requests between them (room_owner.py).
    nodes: NodeLinks = field(default_factory=NodeLinks)
    # Sockets of other nodes following rooms of this one: (room, user, node) -> how many.
    attached_from: dict[tuple[str, str, str], int] = field(default_factory=dict)
    # A cluster's media relay (actions/cluster_media.py; None: media on the room's node),
    # the rooms this node is a media node of, and their audible sets as their node said.
    node_relay: NodeRelay | None = None
    media_rooms: set[str] = field(default_factory=set)
    media_audible: dict[str, tuple[int, frozenset[str]]] = field(default_factory=dict)
    # The last sanction this node has applied to its rooms and sockets (actions/sanctions.py).
    sanctions_seen: int | None = None
    # The last operator action (admin audit log) this node has applied (actions/admin.py).
    operator_seen: int | None = None
    # The OpenID provider when single sign-on is configured (actions/sso.py).
    oidc: OidcClient | None = None
