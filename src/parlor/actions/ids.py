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


_ID_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")


def looks_like_id(value: str) -> bool:
    """Could `value` be an id of ours? (Checked before a lookup: PostgreSQL refuses a
    NUL in a string parameter with an error, where "no such row" is the answer.)"""
    return 0 < len(value) <= 32 and all(ch in _ID_CHARS for ch in value)
