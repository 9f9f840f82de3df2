"""ICE servers for clients: TURN with short-lived credentials (the TURN REST API scheme).

coturn with `use-auth-secret` and `static-auth-secret=SECRET` accepts a username
`EXPIRY:USERID` (EXPIRY in Unix seconds) with the password
base64(HMAC-SHA1(SECRET, username)) until EXPIRY. Parlor holds the same secret
(PARLOR_TURN_SECRET) and hands each signed-in client such a pair; neither the secret
nor a credential is ever logged.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
from typing import Any

from parlor.actions.services import Services
from parlor.domain.users import User


def turn_credentials(secret: str, user_id: str, expires_at: float) -> tuple[str, str]:
    """(username, password) valid until `expires_at`, as coturn checks them."""
    username = f"{math.floor(expires_at)}:{user_id}"
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return username, base64.b64encode(digest).decode()


def ice_servers(s: Services, user: User) -> dict[str, Any]:
    """What `GET /api/media/ice-servers` answers: RTCPeerConnection's `iceServers`."""
    settings = s.settings
    if not settings.turn_urls:
        return {"ice_servers": [], "ttl_s": None}
    username, credential = turn_credentials(settings.turn_secret, user.id, s.clock() + settings.turn_ttl_s)
    server = {"urls": list(settings.turn_urls), "username": username, "credential": credential}
    return {"ice_servers": [server], "ttl_s": settings.turn_ttl_s}
