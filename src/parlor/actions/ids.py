"""Identifiers and secrets."""

from __future__ import annotations

import hashlib
import secrets


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_urlsafe(12)}"


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def digest(secret: str) -> str:
    """What we store of a high-entropy secret (session, token, invite code)."""
    return hashlib.sha256(secret.encode()).hexdigest()
