"""The named limits, their defaults, and the operator's overrides (PARLOR_LIMITS).

A policy is `count` per `window_s` seconds, counted separately for each key the
caller gives (an account, an address, a pair of people). It is a token bucket:
`count` at once, then refilling evenly over the window, so 30 an hour is 30 in a
burst and then one every 2 minutes.

The two sign-in policies read differently: `count` failures are free, then each
further failure makes the next attempt wait, doubling from one second up to
`window_s` (docs/API.md, Limits).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Rate:
    count: int
    window_s: float


SIGN_IN_ACCOUNT = "sign_in_account"
SIGN_IN_ADDRESS = "sign_in_address"
CONTACT_LOOKUP = "contact_lookup"

# name → default rate; the comment says whom each is counted for.
DEFAULTS: Mapping[str, Rate] = {
    # failures free, then a doubling wait capped at window_s
    SIGN_IN_ACCOUNT: Rate(5, 900),  # per username tried
    SIGN_IN_ADDRESS: Rate(20, 900),  # per address
    "signup": Rate(30, 3600),  # per address
    "waitlist": Rate(20, 3600),  # joins, per address
    "invites": Rate(50, 3600),  # invite codes made, per account
    "room_create": Rate(30, 3600),  # per account and per address
    "room_join": Rate(60, 600),  # per account
    "room_invite": Rate(100, 3600),  # members invited into rooms, per moderator
    "event_create": Rate(20, 86400),  # events scheduled, per account and per address
    CONTACT_LOOKUP: Rate(5000, 86400),  # hash prefixes, per account (PARLOR_CONTACT_PREFIX_BUDGET)
    "ping": Rate(1, 60),  # "join me" pings, per (pinger, person pinged)
    "reports": Rate(20, 3600),  # per account and per address
    "guest_room_open": Rate(20, 3600),  # guest rooms opened, per address
    "guest_join": Rate(60, 600),  # entries as a guest (any room), per address
    "chat": Rate(30, 60),  # in-room chat lines, per account
    "reactions": Rate(30, 15),  # in-room reactions, per account (a burst of 30, then 2 a second)
    # end-to-end encrypted rooms (actions/e2ee.py): public keys published, per person and
    # room; wrapped room keys sent, per person (a key leader rotating to 60 people a few
    # times a minute)
    "e2ee_publish": Rate(10, 60),
    "e2ee_key": Rate(600, 60),
    "club_found": Rate(3, 86400),  # clubs founded, per account
    "club_invite": Rate(50, 3600),  # club invitations and nominations, per account
    # single sign-on starts and returns (each return asks the provider for a token), per
    # address: generous, as a whole organisation may sign in from one address
    "sso": Rate(120, 600),
}

MAX_COUNT = 10_000_000
MAX_WINDOW_S = 7 * 86400


class PolicyError(ValueError):
    pass


def parse(items: Iterable[str]) -> dict[str, Rate]:
    """`["room_create=10/3600", ...]` → overrides; refuses unknown names and nonsense."""
    found: dict[str, Rate] = {}
    for item in items:
        name, eq, value = item.strip().partition("=")
        count, slash, window = value.partition("/")
        name = name.strip()
        if name not in DEFAULTS:
            raise PolicyError(f"unknown limit {name!r} (known: {', '.join(sorted(DEFAULTS))})")
        try:
            rate = Rate(int(count), float(window))
        except ValueError:
            rate = None
        if not (eq and slash and rate and 1 <= rate.count <= MAX_COUNT and 1 <= rate.window_s <= MAX_WINDOW_S):
            raise PolicyError(
                f"a limit is NAME=COUNT/SECONDS with COUNT 1..{MAX_COUNT} and SECONDS 1..{MAX_WINDOW_S}, "
                f"e.g. room_create=30/3600, not {item.strip()!r}"
            )
        found[name] = rate
    return found


def table(overrides: Iterable[str] = (), contact_prefix_budget: int | None = None) -> dict[str, Rate]:
    """Every policy: the defaults, then the older contact budget setting, then PARLOR_LIMITS."""
    rates = dict(DEFAULTS)
    if contact_prefix_budget is not None:
        rates[CONTACT_LOOKUP] = Rate(contact_prefix_budget, DEFAULTS[CONTACT_LOOKUP].window_s)
    rates.update(parse(overrides))
    return rates
