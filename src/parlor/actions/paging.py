"""Keyset paging shared by every paged list: opaque cursors and limit checks.

A cursor is the last row's (time, id), base64url without padding; clients pass it back
unchanged. Anything that is not one of ours is `400 invalid_cursor`.
"""

from __future__ import annotations

import base64
import binascii
import math

from parlor.errors import Code, ParlorError, bad_input

After = tuple[float, str]  # (created_at, id) of the last row of the previous page


def encode_cursor(after: After) -> str:
    at, row_id = after
    return base64.urlsafe_b64encode(f"{at!r}|{row_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> After:
    bad = ParlorError(400, Code.INVALID_CURSOR, "This cursor is not valid: start again from the first page.")
    if len(cursor) > 200:
        raise bad
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        at, _, row_id = raw.partition("|")
        value = float(at)
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise bad from exc
    if not row_id or len(row_id) > 32 or not math.isfinite(value):
        raise bad
    return value, row_id


def check_limit(limit: int, most: int) -> int:
    if not 1 <= limit <= most:
        raise bad_input(f"limit must be 1 to {most}.")
    return limit
