"""Instance settings an admin changes from the console, kept as instance facts.

- `invites_per_member`: each member's invite quota (default: the
  PARLOR_INVITES_PER_MEMBER setting); actions/growth.py reads it.
- `guest_rooms`: whether people without an account may come in as guests: open a
  guest room by its name, or enter a members' room whose moderator lets "anyone
  with the link" in (actions/guests.py). Default: the PARLOR_GUEST_ROOMS setting.
- `clubs_rule`: who may found a club — `"members"`, `"hosts"` (members who hosted
  at least `club_min_rooms_hosted` rooms; the default, 3, is DESIGN §5's rule),
  `"admins"` or `"off"`; instance admins may always found one (actions/clubs.py).
The sign-up mode (actions/growth.py) and the embedding sites (actions/embed.py) are
instance settings too, with routes of their own.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from parlor.actions.growth import actor_id, check_admin
from parlor.actions.services import Services
from parlor.domain.users import User
from parlor.errors import bad_input
from parlor.storage import accounts as account_store
from parlor.storage import admin_audit
from parlor.storage import growth as growth_store

logger = logging.getLogger(__name__)

CLUB_RULES = ("members", "hosts", "admins", "off")
INVITES_MAX = 1000
CLUB_ROOMS_MAX = 1000
DEFAULT_CLUBS_RULE = "hosts"
DEFAULT_CLUB_ROOMS = 3

_INVITES = growth_store.QUOTA_KEY
_GUESTS = "guest_rooms"
_CLUBS = "clubs_rule"
_CLUB_ROOMS = "club_min_rooms_hosted"


def _int(raw: str | None, default: int) -> int:
    try:
        return int(raw) if raw is not None else default
    except ValueError:
        return default


async def invites_per_member(s: Services, conn: AsyncConnection) -> int:
    quota = await growth_store.invite_quota(conn)
    return s.settings.invites_per_member if quota is None else quota


async def guest_rooms_on(s: Services, conn: AsyncConnection) -> bool:
    fact = await account_store.get_fact(conn, _GUESTS)
    return s.settings.guest_rooms if fact is None else fact == "on"


async def clubs_rule(conn: AsyncConnection) -> tuple[str, int]:
    """Who may found a club, and how many rooms a host must have hosted."""
    rule = await account_store.get_fact(conn, _CLUBS)
    hosted = _int(await account_store.get_fact(conn, _CLUB_ROOMS), DEFAULT_CLUB_ROOMS)
    return (rule if rule in CLUB_RULES else DEFAULT_CLUBS_RULE), hosted


async def _read(s: Services, conn: AsyncConnection) -> dict[str, Any]:
    rule, hosted = await clubs_rule(conn)
    return {
        "invites_per_member": await invites_per_member(s, conn),
        "guest_rooms": await guest_rooms_on(s, conn),
        "clubs_rule": rule,
        "club_min_rooms_hosted": hosted,
    }


async def settings(s: Services, actor: User | None) -> dict[str, Any]:
    check_admin(actor)
    async with s.db.engine.connect() as conn:
        return await _read(s, conn)


def _check(changes: dict[str, Any]) -> dict[str, str]:
    """The facts to write, as strings; refuses the whole change on any bad value."""
    if not changes:
        raise bad_input("Send at least one setting to change.")
    facts: dict[str, str] = {}
    for key, value in changes.items():
        if key == _INVITES:
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= INVITES_MAX:
                raise bad_input(f"invites_per_member is a whole number from 0 to {INVITES_MAX}.")
            facts[key] = str(value)
        elif key == _GUESTS:
            if not isinstance(value, bool):
                raise bad_input("guest_rooms is true or false.")
            facts[key] = "on" if value else "off"
        elif key == _CLUBS:
            if value not in CLUB_RULES:
                raise bad_input(f"clubs_rule is one of {', '.join(CLUB_RULES)}.")
            facts[key] = str(value)
        elif key == _CLUB_ROOMS:
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= CLUB_ROOMS_MAX:
                raise bad_input(f"club_min_rooms_hosted is a whole number from 1 to {CLUB_ROOMS_MAX}.")
            facts[key] = str(value)
        else:
            raise bad_input(f"Unknown setting: {key[:40]}.")
    return facts


async def do_change(s: Services, actor: User | None, changes: dict[str, Any]) -> dict[str, Any]:
    """Change some settings (all or nothing); audited with what changed."""
    check_admin(actor)
    facts = _check(changes)
    async with s.db.engine.begin() as conn:
        for key, value in sorted(facts.items()):
            await account_store.set_fact(conn, key, value)
        detail = ", ".join(f"{key}={value}" for key, value in sorted(facts.items()))
        await admin_audit.record(conn, now=s.clock(), actor_id=actor_id(actor), action="settings.change", detail=detail)
        answer = await _read(s, conn)
    logger.info("instance settings changed by %s: %s", actor_id(actor) or "the operator", ", ".join(sorted(facts)))
    return answer
