"""Logging set-up. Logs carry no secrets: query strings (setup and bearer tokens
can ride in them) are cut from access lines."""

from __future__ import annotations

import logging


class StripQuery(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            path = args[2].split("?", 1)[0]
            record.args = (*args[:2], path, *args[3:])
        return True


def configure(level: str) -> None:
    logging.basicConfig(level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("uvicorn.access").addFilter(StripQuery())
    logging.getLogger("alembic").setLevel(logging.WARNING)
