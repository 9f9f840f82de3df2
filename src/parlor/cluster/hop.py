"""Requests between the nodes of a cluster, signed with the cluster's node key.

A room's requests go to the node that runs it: HTTP requests are forwarded whole
(transport/http/node_hop.py), socket messages are carried one by one
(actions/room_ops.py). The node that receives one believes what the hop says (the
client's address, the user a socket message comes from) only with a signature made with
the node key, which every node reads from the shared database and no client ever sees,
and only within `MAX_AGE_S` of its making (a captured hop cannot be replayed later).
"""

from __future__ import annotations

import hashlib
import hmac

MAX_AGE_S = 30.0


def sign(key: bytes, now: float, *parts: str) -> str:
    stamp = str(int(now))
    return f"{stamp}.{_mac(key, stamp, parts)}"


def verify(key: bytes, token: str, now: float, *parts: str) -> bool:
    stamp, _, mac = token.partition(".")
    if not key or not stamp.isdigit() or abs(now - int(stamp)) > MAX_AGE_S:
        return False
    return hmac.compare_digest(mac, _mac(key, stamp, parts))


def _mac(key: bytes, stamp: str, parts: tuple[str, ...]) -> str:
    message = "\x00".join((stamp, *parts)).encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()
