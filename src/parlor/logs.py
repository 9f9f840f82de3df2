"""Logging set-up. Logs carry no secrets: query strings (setup and bearer tokens
can ride in them) are cut from access lines, and so are guest rooms' names (nothing
of a guest room is kept, actions/guests.py)."""

from __future__ import annotations

import logging
import re

_GUEST_ROOM = re.compile(r"^(/r/|/api/guest-rooms/)[^/]*")


def access_path(path: str) -> str:
    """What an access line may say of a request's path."""
    return _GUEST_ROOM.sub(r"\1-", path.split("?", 1)[0])


class StripQuery(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            record.args = (*args[:2], access_path(args[2]), *args[3:])
        return True


def configure(level: str) -> None:
    logging.basicConfig(level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("uvicorn.access").addFilter(StripQuery())
    logging.getLogger("alembic").setLevel(logging.WARNING)
    # Authlib's debug lines carry a sign-in's PKCE verifier.
    logging.getLogger("authlib").setLevel(logging.INFO)
